"""Embedding requests from many clients, encoded together: one worker thread, one forward per batch.

Batching adapts to the traffic. When a batch is done, the worker expects its clients back: the next batch
starts as soon as that many new requests have arrived (or `max_texts` texts wait), and waits for them at most
`window_ms`. So a lone client (previous batch: its one request) is answered at once, never made to wait;
requests that arrive while a batch runs are batched next, together with the returning clients, so eight
clients settle into one batch of eight rather than alternating halves. Every waiting request for the same
model joins the batch until it holds `max_texts` texts (a request is never split); requests a batch left
waiting (another model, or no room) go next without waiting again. Texts of the whole batch
are sorted by length and padded per chunk, so eight clients sending one sentence each cost one forward.
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
        self._expected = 1  # requests the previous batch held: the clients expected back
        self._arrivals = 0  # requests submitted so far
        self._arrivals_when_done = 0  # ... when the previous batch was done
        self._left_over = False  # the previous batch left requests waiting (another model, or no room)

    def _ready(self) -> bool:
        """(Holding the lock.) Whether a batch starts now: requests have already waited through a whole batch,
        as many requests arrived since the previous batch was done as it held, or enough texts wait to fill one."""
        return (self._left_over or self._arrivals - self._arrivals_when_done >= self._expected
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
            self._arrivals += 1
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
            while not self._stopped and not self._ready():
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
            self._expected, self._left_over = len(batch), bool(keep)
            return batch

    def _work(self) -> None:
        while (batch := self._take()) is not None:
            try:
                answers = self._run(batch)
            except Exception as err:  # a failed load or forward fails its requests, never the thread
                answers = [(request.future, err) for request in batch]
            with self._cond:  # before anyone is answered: later arrivals are its clients coming back (or new)
                self._arrivals_when_done = self._arrivals
            for future, answer in answers:
                if isinstance(answer, Exception):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)

    def _run(self, batch: list[_Request]) -> list[tuple[Future, Embedded | Exception]]:
        encoder = self.encoder(batch[0].model)
        ids = encoder.tokenizer([t for r in batch for t in r.texts], truncation=False)["input_ids"]
        answers, accepted, rows, start = [], [], [], 0
        for request in batch:
            own = ids[start:start + len(request.texts)]
            start += len(request.texts)
            too_long = next(((i, len(x)) for i, x in enumerate(own) if len(x) > encoder.max_length), None)
            if too_long:
                answers.append((request.future, InputTooLong(*too_long, encoder.max_length)))
                continue
            accepted.append((request, len(rows), len(own), sum(map(len, own))))
            rows += own
        vectors = encoder.encode_ids(rows, batch_size=self.max_texts) if rows else None
        self.stats.batches += 1
        self.stats.requests += len(batch)
        self.stats.texts += len(rows)
        return answers + [(request.future, Embedded(vectors[offset:offset + count], tokens))
                          for request, offset, count, tokens in accepted]
