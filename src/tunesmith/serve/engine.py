"""The decoding engine: one worker thread owns the model and batches whatever requests are waiting.

Requests wait in a bounded queue (full means 429, never unbounded memory). The first request of a
batch waits `batch_window_ms` for company; later arrivals for the same model join the running batch
between decode steps (continuous batching). Everything that touches a model runs on this one thread,
so adapters can be swapped and evicted without locks around forward passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass

from tunesmith.errors import TunesmithError
from tunesmith.serve.batch import Delta, Failed, Finished, RunningBatch, Sequence
from tunesmith.serve.sampling import SamplingParams


class QueueFullError(TunesmithError):
    """The server is at its queue limit; the client should retry later."""


@dataclass
class EngineStats:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    decode_steps: int = 0
    batched_rows: int = 0  # sum of batch sizes over decode steps; / decode_steps = mean batch size
    prefilled_tokens: int = 0  # prompt tokens actually computed (shared prefixes and twin prompts are not)
    active: int = 0


@dataclass
class _Job:
    fn: Callable[[], object]
    future: Future


def _coalesce(events: list[object]) -> list[object]:
    """Merge runs of consecutive Deltas into one."""
    merged: list[object] = []
    for event in events:
        if isinstance(event, Delta) and merged and isinstance(merged[-1], Delta):
            logprobs = None if event.logprobs is None else (merged[-1].logprobs or []) + event.logprobs
            merged[-1] = Delta(merged[-1].text + event.text, logprobs)
        else:
            merged.append(event)
    return merged


class _Channel:
    """Events of one sequence, from the engine thread to the event loop.

    The engine thread appends events to a buffer and wakes the event loop only when the buffer was empty, so
    a busy loop receives the deltas of several tokens at once (merged into one Delta) instead of one thread
    hop per token.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.buffer: list[object] = []
        self.lock = threading.Lock()
        self.ready = asyncio.Event()

    def sink(self, event: object) -> None:
        with self.lock:
            self.buffer.append(event)
            if len(self.buffer) > 1:
                return  # a wake-up is already on its way
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening any more
            self.loop.call_soon_threadsafe(self.ready.set)

    async def events(self, seq: Sequence) -> AsyncIterator[object]:
        """Delta events and finally one Finished; raises the engine's error if the sequence failed."""
        try:
            while True:
                await self.ready.wait()
                with self.lock:
                    events, self.buffer[:] = list(self.buffer), []
                    self.ready.clear()
                for event in _coalesce(events):
                    if isinstance(event, Failed):
                        raise event.error
                    yield event
                    if isinstance(event, Finished):
                        return
        finally:
            seq.cancelled = True


async def gather_answer(events: AsyncIterator[object], logprobs: bool) -> tuple[str, Finished]:
    """A stream's whole text and its Finished (carrying every token's logprobs when `logprobs`)."""
    parts: list[str] = []
    entries: list | None = [] if logprobs else None
    async for event in events:
        if isinstance(event, Delta):
            parts.append(event.text)
            if entries is not None:
                entries += event.logprobs or []
        else:
            event.logprobs = entries
            return "".join(parts), event
    raise RuntimeError("stream ended without a result")


class Engine:
    supports_logprobs = True  # the batch loop and plain generate both report them (serve.sampling.token_logprob)
    supports_logits_processors = True  # logit_bias, penalties, constraints (serve.sampling.adjusted_logits)

    def __init__(self, registry, max_batch_size: int = 8, batch_window_ms: int = 10, max_queue: int = 64):
        self.registry = registry
        self.max_batch_size = max_batch_size
        self.batch_window = batch_window_ms / 1000
        self.max_queue = max_queue
        self.stats = EngineStats()
        self._pending: deque = deque()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None

    # lifecycle --------------------------------------------------------------------------------------
    def start(self) -> Engine:
        if self._thread is None:
            self._stopped = False
            self._thread = threading.Thread(target=self._work, name="tunesmith-engine", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    @property
    def queued(self) -> int:
        return len(self._pending)

    # submitting -------------------------------------------------------------------------------------
    def _enqueue(self, item) -> None:
        with self._cond:
            if len(self._pending) >= self.max_queue:
                raise QueueFullError(f"the server queue is full ({self.max_queue} waiting requests)",
                                     "Retry after a short pause.")
            self._pending.append(item)
            self._cond.notify_all()

    def submit(self, model_id: str, prompt_ids: list[int], params: SamplingParams,
               sink: Callable[[object], None]) -> Sequence:
        seq = Sequence(model_id, list(prompt_ids), params, sink)
        self._enqueue(seq)
        return seq

    def call(self, fn: Callable[[], object]) -> Future:
        """Run `fn` on the engine thread (between decode steps) and return its future."""
        job = _Job(fn, Future())
        self._enqueue(job)
        return job.future

    def open_streams(self, model_id: str, prompt_ids: list[int], params: list[SamplingParams]) -> list[AsyncIterator]:
        """One event stream per entry of `params`, all for the same prompt, queued together (all or none, so they
        are prefilled together and share the prompt's KV). Call from the event loop; iterate each to its end
        or close it (closing cancels its sequence)."""
        loop = asyncio.get_running_loop()
        channels = [_Channel(loop) for _ in params]
        seqs = [Sequence(model_id, list(prompt_ids), p, c.sink) for p, c in zip(params, channels, strict=True)]
        with self._cond:
            if len(self._pending) + len(seqs) > self.max_queue:
                raise QueueFullError(f"the server queue is full ({self.max_queue} waiting requests)",
                                     "Retry after a short pause.")
            self._pending.extend(seqs)
            self._cond.notify_all()
        return [c.events(s) for c, s in zip(channels, seqs, strict=True)]

    async def stream(self, model_id: str, prompt_ids: list[int], params: SamplingParams) -> AsyncIterator[object]:
        """Yield Delta events and finally one Finished; raise the engine's error if it failed."""
        (events,) = self.open_streams(model_id, prompt_ids, [params])
        try:
            async for event in events:
                yield event
        finally:
            await events.aclose()

    async def complete(self, model_id: str, prompt_ids: list[int], params: SamplingParams) -> tuple[str, Finished]:
        """The whole answer and its Finished (with every token's logprobs when `params.logprobs` is set)."""
        return await gather_answer(self.stream(model_id, prompt_ids, params), params.logprobs is not None)

    # the worker -------------------------------------------------------------------------------------
    def _group(self, model_id: str) -> str:
        try:
            return self.registry.batch_group(model_id)
        except Exception:  # an id the registry no longer knows: it batches alone (and fails on acquire)
            return model_id

    def _take(self, model_id: str, limit: int, models: set[str] | None = None, exact: bool = False) -> list[Sequence]:
        """Pending requests that may join a batch of `model_id`: its batch group (LoRA siblings on one base)
        unless `exact`, with at most `registry.max_loaded` distinct models so none is evicted mid-batch."""
        group = model_id if exact else self._group(model_id)
        models = set(models or ())
        taken: list[Sequence] = []
        for item in list(self._pending):
            if len(taken) >= limit:
                break
            if not isinstance(item, Sequence) or (item.model_id if exact else self._group(item.model_id)) != group:
                continue
            if item.model_id not in models and len(models) >= self.registry.max_loaded:
                continue
            self._pending.remove(item)
            if not item.cancelled:
                taken.append(item)
                models.add(item.model_id)
        return taken

    def _waiting_for(self, model_id: str) -> int:
        group = self._group(model_id)
        return sum(isinstance(item, Sequence) and self._group(item.model_id) == group for item in self._pending)

    def _wait_for_work(self) -> str | None:
        """Block until something is pending; give a new batch its window to fill up."""
        with self._cond:
            while not self._pending and not self._stopped:
                self._cond.wait()
            if self._stopped:
                return None
            first = self._pending[0]
            if isinstance(first, _Job):
                return ""
            deadline = time.monotonic() + self.batch_window
            while self._waiting_for(first.model_id) < self.max_batch_size and not self._stopped:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return first.model_id

    def _run_jobs(self) -> None:
        with self._cond:
            jobs = [item for item in self._pending if isinstance(item, _Job)]
            for job in jobs:
                self._pending.remove(job)
        for job in jobs:
            if job.future.set_running_or_notify_cancel():
                try:
                    job.future.set_result(job.fn())
                except BaseException as err:  # handed to the caller, who decides
                    job.future.set_exception(err)

    def _admit(self, batch: RunningBatch) -> None:
        with self._cond:
            new = self._take(batch.loaded.model_id, self.max_batch_size - len(batch),
                             {s.model_id for s in batch.seqs}) if batch.can_join else []
        if not new:
            return
        self.stats.requests += len(new)
        self.stats.prompt_tokens += sum(len(s.prompt_ids) for s in new)
        ready = []
        for seq in new:
            try:
                seq.loaded = self.registry.acquire(seq.model_id)
                ready.append(seq)
            except Exception as err:  # this adapter could not be loaded; its siblings carry on
                seq.sink(Failed(err))
        try:
            if ready:
                batch.add(ready)
        except Exception as err:  # only the newcomers not yet prefilled failed; the running rows carry on
            joined = {id(s) for s in batch.seqs}
            for seq in ready:
                if id(seq) not in joined and not seq.done:
                    seq.done = True
                    seq.sink(Failed(err))

    def _decode(self, model_id: str) -> None:
        loaded = self.registry.acquire(model_id)
        if loaded.plain_generate:
            return self._decode_plain(loaded)
        batch = RunningBatch(loaded)
        self._admit(batch)
        try:
            while len(batch) and not self._stopped:
                self.stats.active = len(batch)
                batch.step()
                self.stats.decode_steps += 1
                self.stats.batched_rows += self.stats.active
                self._run_jobs()
                self._admit(batch)
                self.stats.completion_tokens += batch.generated
                self.stats.prefilled_tokens += batch.prefilled
                batch.generated = batch.prefilled = 0
        except Exception as err:
            batch.fail(err)
        finally:
            self.stats.completion_tokens += batch.generated
            self.stats.prefilled_tokens += batch.prefilled
            self.stats.active = 0
            if self._stopped:
                batch.fail(RuntimeError("the server is shutting down"))

    def _decode_plain(self, loaded) -> None:
        """One request at a time through `model.generate` (prefix/prompt tuning own their cache)."""
        from tunesmith.serve.batch import plain_generate

        while not self._stopped:
            with self._cond:
                taken = self._take(loaded.model_id, 1, exact=True)
            if not taken:
                return
            self.stats.requests += 1
            self.stats.prompt_tokens += len(taken[0].prompt_ids)
            try:
                self.stats.completion_tokens += plain_generate(loaded, taken[0])
            except Exception as err:
                taken[0].sink(Failed(err))
            self._run_jobs()

    def _work(self) -> None:
        while True:
            model_id = self._wait_for_work()
            if model_id is None:
                return
            self._run_jobs()
            if not model_id:
                continue
            try:
                self._decode(model_id)
            except Exception as err:  # the model could not be loaded: fail its waiting requests
                with self._cond:
                    failed = self._take(model_id, self.max_queue, exact=True)
                for seq in failed:
                    seq.sink(Failed(err))
