"""API keys (stored hashed, compared in constant time) and per-key rate limits (token buckets)."""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections.abc import Callable, Iterable


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyRing:
    """Holds only digests; `check` compares against every digest so timing reveals nothing."""

    def __init__(self, keys: Iterable[str] = (), hashes: Iterable[str] = ()):
        self._digests = [bytes.fromhex(hash_key(k)) for k in keys] + [bytes.fromhex(h.strip().lower())
                                                                     for h in hashes]

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def check(self, presented: str | None) -> str | None:
        """The matching key's digest (an identity for rate limits), or None."""
        if presented is None:
            return None
        digest = bytes.fromhex(hash_key(presented))
        match = None
        for known in self._digests:
            if hmac.compare_digest(digest, known):
                match = known.hex()
        return match


class RateLimiter:
    """`per_minute` requests per identity with bursts up to `burst`; 0 disables it."""

    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, identity: str) -> float:
        """0 if the request may go ahead, otherwise the seconds to wait before retrying."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get(identity, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[identity] = (tokens - 1, now)
                return 0.0
            self._buckets[identity] = (tokens, now)
            return (1 - tokens) / self.rate


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
