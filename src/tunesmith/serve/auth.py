"""Who may use the server: API keys (stored hashed, compared in constant time) from the config and the
`TUNESMITH_API_KEYS` environment variable, per-key rate limits (token buckets), and `Guard`, the one
ASGI layer that applies both to every request of a tunesmith server except `GET /health`.

The guard sits in front of routing, so a router mounted later (feedback, fine-tuning, anything a future
feature adds) is covered without passing it a dependency, and so is a request whose body FastAPI parses
before any dependency runs (a multipart upload, malformed JSON) or a path that does not exist.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping

ENV_KEYS = "TUNESMITH_API_KEYS"
OPEN_PATHS = frozenset({"/health"})


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def configured_keys(settings, environ: Mapping[str, str] | None = None) -> tuple[list[str], list[str]]:
    """(plain keys, SHA-256 digests) the server accepts: `serve.api_keys` + `TUNESMITH_API_KEYS`
    (comma-separated), and `serve.api_key_hashes`. The only place the environment variable is read."""
    environ = os.environ if environ is None else environ
    from_env = [k.strip() for k in environ.get(ENV_KEYS, "").split(",") if k.strip()]
    return list(settings.api_keys) + from_env, list(settings.api_key_hashes)


def client_key(settings, environ: Mapping[str, str] | None = None) -> str | None:
    """A plain key a local client (the studio) can send to a server built from `settings`, if there is one."""
    keys, _ = configured_keys(settings, environ)
    return keys[0] if keys else None


class KeyRing:
    """Holds only digests; `check` compares against every digest so timing reveals nothing."""

    def __init__(self, keys: Iterable[str] = (), hashes: Iterable[str] = ()):
        self._digests = [bytes.fromhex(hash_key(k)) for k in keys] + [bytes.fromhex(h.strip().lower())
                                                                     for h in hashes]

    @classmethod
    def from_settings(cls, settings, environ: Mapping[str, str] | None = None) -> KeyRing:
        return cls(*configured_keys(settings, environ))

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


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == b"authorization":
            text = value.decode("latin-1")
            return text[7:].strip() if text.lower().startswith("bearer ") else None
    return None


async def _refuse(send, status: int, message: str, type_: str, code: str, headers: dict[str, str]) -> None:
    body = json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """ASGI layer: 401 without a valid key (when keys are set), 429 over the rate limit, else pass through."""

    def __init__(self, app, keys: KeyRing, limiter: RateLimiter):
        self.app, self.keys, self.limiter = app, keys, limiter

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") in OPEN_PATHS:
            return await self.app(scope, receive, send)
        client = scope.get("client")
        identity = client[0] if client else "anonymous"
        if self.keys.enabled:
            identity = self.keys.check(bearer_token(scope.get("headers") or []))
            if identity is None:
                return await _refuse(send, 401, "Incorrect or missing API key. Send it as 'Authorization: Bearer "
                                     "KEY'.", "invalid_request_error", "invalid_api_key",
                                     {"WWW-Authenticate": "Bearer"})
        wait = self.limiter.acquire(identity)
        if wait > 0:
            return await _refuse(send, 429, "Rate limit reached for this API key.", "requests",
                                 "rate_limit_exceeded", {"Retry-After": retry_after_header(wait)})
        return await self.app(scope, receive, send)
