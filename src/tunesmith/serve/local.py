"""The serving engine's batch loop, driven on the caller's thread for a known list of prompts.

Evaluation, export parity, the studio playground and data paraphrasing generate through this, so they decode
exactly as `tunesmith serve` does: the same end-of-turn tokens, sampling and stop strings, continuous batching
(a row that finishes makes room for the next prompt at once, instead of a static batch running until its
longest answer ends) and the reuse of the shared prompt prefix's KV (the system prompt and template).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tunesmith.serve.batch import Delta, Failed, Finished, RunningBatch, plain_generate
from tunesmith.serve.batch import Sequence as Row
from tunesmith.serve.registry import LoadedModel
from tunesmith.serve.sampling import SamplingParams


@dataclass
class Answer:
    text: str
    ids: list[int]  # the answer's tokens, without the end-of-turn token (`finished.end_token`)
    finished: Finished


def _virtual_tokens(model) -> bool:
    """Prefix and prompt tuning own their cache layout: they decode with `model.generate`, one prompt at a time,
    as the server decodes them."""
    config = getattr(model, "active_peft_config", None)
    return bool(getattr(config, "is_prompt_learning", False))


def loaded_for(model, tokenizer, model_id: str = "local") -> LoadedModel:
    """A model and tokenizer in hand, described as the server describes the models it loads."""
    from tunesmith.models.loading import end_of_turn_ids

    config = getattr(model, "config", None)
    eos = end_of_turn_ids(tokenizer, getattr(model, "generation_config", None))
    loaded = LoadedModel(model_id, model, tokenizer, "local", frozenset(eos),
                         tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
                         int(getattr(config, "max_position_embeddings", None) or 512))
    loaded.plain_generate = _virtual_tokens(model)
    return loaded


class _Collector:
    """The events of one row: its text as it is released, then its Finished (or the error that failed it)."""

    def __init__(self, done: Callable[[], None]):
        self.parts: list[str] = []
        self.finished: Finished | None = None
        self.error: BaseException | None = None
        self._done = done

    def __call__(self, event: object) -> None:
        if isinstance(event, Delta):
            self.parts.append(event.text)
        elif isinstance(event, Finished):
            self.finished = event
            self._done()
        elif isinstance(event, Failed):
            self.error = event.error
            self._done()


def run_prompts(loaded: LoadedModel, prompts: Sequence[list[int]], params: Sequence[SamplingParams], *,
                max_batch: int = 8, on_done: Callable[[], None] = lambda: None) -> list[Answer]:
    """Answer each tokenized prompt under its sampling parameters, at most `max_batch` rows decoding at once;
    answers come back in input order. `on_done` is called once per finished prompt (a progress bar)."""
    collectors = [_Collector(on_done) for _ in prompts]
    rows = [Row(loaded.model_id, list(p), s, c) for p, s, c in zip(prompts, params, collectors, strict=True)]
    loaded.model.eval()
    if loaded.plain_generate:
        for row in rows:
            row.loaded = loaded
            plain_generate(loaded, row)
    else:
        waiting, batch = deque(rows), RunningBatch(loaded)
        while waiting or len(batch):
            room = max_batch - len(batch)
            if room > 0 and waiting and batch.can_join:
                batch.add([waiting.popleft() for _ in range(min(room, len(waiting)))])
            if len(batch):
                batch.step()
    answers = []
    for row, collector in zip(rows, collectors, strict=True):
        if collector.error is not None:
            raise collector.error
        answers.append(Answer("".join(collector.parts), list(row.ids), collector.finished))
    return answers
