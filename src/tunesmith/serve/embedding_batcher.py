"""Embedding requests from many clients, encoded together: one worker thread, one forward per batch.

Batching adapts to the traffic: the worker expects as many requests as its previous batch held. A lone client
(previous batch: one request) is answered at once, never made to wait; with several clients a batch waits at
most `window_ms` for that many to arrive, and requests that arrive while a batch runs are simply batched
next. Every waiting request for the same model then joins the batch until it holds `max_texts` texts (a
request is never split). Texts of the whole batch are sorted by
length and padded per chunk, so eight clients sending one sentence each cost one forward, not eight.
The queue is bounded: full means 429. Encoders load on this thread, least recently used evicted.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from tunesmith.embeddings.encoder import SentenceEncoder
from tunesmith.serve.engine import QueueFullError


class InputTooLong(ValueError):
    """An input has more tokens than the model reads (OpenAI refuses these rather than truncating)."""

    def __init__(self, index: int, tokens: int, limit: int):
        super().__init__(f"input[{index}] has {tokens} tokens; this model reads at most {limit}.")
        self.index, self.tokens, self.limit = index, tokens, limit


@dataclass
class Embedded:
    vectors: np.ndarray  # (n, dim) float32, normalized when the model normalizes
    tokens: int


@dataclass
class _Request:
    model: str
    texts: list[str]
    future: Future


@dataclass
class BatchStats:
    requests: int = 0
    batches: int = 0
    texts: int = 0


class EmbeddingBatcher:
    def __init__(self, load: Callable[[str], SentenceEncoder], max_texts: int = 64, window_ms: int = 5,
                 max_queue: int = 256, max_loaded: int = 4):
        self.load, self.max_texts, self.window = load, max_texts, window_ms / 1000
        self.max_queue, self.max_loaded = max_queue, max_loaded
        self.stats = BatchStats()
        self._pending: deque[_Request] = deque()
        self._cond = threading.Condition()
        self._loaded: OrderedDict[str, SentenceEncoder] = OrderedDict()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._expected = 1  # requests the previous batch held: the company worth waiting for

    def ready(self) -> bool:
        """Whether the waiting requests make a batch now (holding the lock): enough texts to fill one, or as
        many requests as the previous batch held."""
        return (len(self._pending) >= self._expected
                or sum(len(r.texts) for r in self._pending) >= self.max_texts)

    def start(self) -> EmbeddingBatcher:
        if self._thread is None:
            self._stopped = False
            self._thread = threading.Thread(target=self._work, name="tunesmith-embeddings", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def submit(self, model: str, texts: Sequence[str]) -> Future:
        request = _Request(model, list(texts), Future())
        with self._cond:
            if len(self._pending) >= self.max_queue:
                raise QueueFullError(f"the embedding queue is full ({self.max_queue} waiting requests)",
                                     "Retry after a short pause.")
            self._pending.append(request)
            self._cond.notify_all()
        self.start()
        return request.future

    def encoder(self, model: str) -> SentenceEncoder:
        """The loaded encoder for `model` (worker thread only)."""
        if model not in self._loaded:
            self._loaded[model] = self.load(model)
            while len(self._loaded) > self.max_loaded:
                self._loaded.popitem(last=False)
        self._loaded.move_to_end(model)
        return self._loaded[model]

    def _take(self) -> list[_Request] | None:
        with self._cond:
            while not self._pending and not self._stopped:
                self._cond.wait()
            if self._stopped:
                return None
            deadline = time.monotonic() + self.window
            while not self._stopped and not self.ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            first = self._pending[0].model
            batch, size, keep = [], 0, deque()
            while self._pending:
                request = self._pending.popleft()
                if request.model == first and (not batch or size + len(request.texts) <= self.max_texts):
                    batch.append(request)
                    size += len(request.texts)
                else:
                    keep.append(request)
            self._pending.extendleft(reversed(keep))
            self._expected = len(batch)
            return batch

    def _work(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self._run(batch)
            except Exception as err:  # a failed load or forward fails its requests, never the thread
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(err)

    def _run(self, batch: list[_Request]) -> None:
        encoder = self.encoder(batch[0].model)
        ids = encoder.tokenizer([t for r in batch for t in r.texts], truncation=False)["input_ids"]
        accepted, rows, start = [], [], 0
        for request in batch:
            own = ids[start:start + len(request.texts)]
            start += len(request.texts)
            too_long = next(((i, len(x)) for i, x in enumerate(own) if len(x) > encoder.max_length), None)
            if too_long:
                request.future.set_exception(InputTooLong(*too_long, encoder.max_length))
                continue
            accepted.append((request, len(rows), len(own), sum(map(len, own))))
            rows += own
        vectors = encoder.encode_ids(rows, batch_size=self.max_texts) if rows else None
        self.stats.batches += 1
        self.stats.requests += len(batch)
        self.stats.texts += len(rows)
        for request, offset, count, tokens in accepted:
            request.future.set_result(Embedded(vectors[offset:offset + count], tokens))
