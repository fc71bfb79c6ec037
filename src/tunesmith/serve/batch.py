"""One running batch of sequences decoded together with a shared KV cache.

Sequences join after their prompt is prefilled (continuous batching) and leave as soon as they finish,
so a long answer never holds short ones back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from tunesmith.serve import kvcache, prefix
from tunesmith.serve.constrain import ConstraintError
from tunesmith.serve.sampling import (
    SamplingParams,
    TokenLogprob,
    adjusted_logits,
    make_generator,
    next_token,
    releasable,
    token_logprob,
)
from tunesmith.serve.textstream import TextStream


@dataclass
class Delta:
    text: str
    logprobs: list[TokenLogprob] | None = None  # the tokens behind `text`, when the request asked for them


@dataclass
class Finished:
    reason: str  # "stop" or "length"
    prompt_tokens: int
    completion_tokens: int
    logprobs: list[TokenLogprob] | None = None  # the whole answer's, filled in by Engine.complete
    end_token: int | None = None  # the end-of-turn token that closed a "stop" answer (None: a stop string)


@dataclass
class Failed:
    error: BaseException


@dataclass
class Sequence:
    model_id: str
    prompt_ids: list[int]
    params: SamplingParams
    sink: Callable[[object], None]
    ids: list[int] = field(default_factory=list)
    cancelled: bool = False
    done: bool = False
    generator: torch.Generator | None = None
    text: TextStream | None = None
    loaded: object | None = None  # serve.registry.LoadedModel of this row (rows of one batch share a base)
    pending: list[TokenLogprob] = field(default_factory=list)  # logprobs of tokens whose text is not sent yet
    constraint: object | None = None  # serve.constrain.Constraint, when params.grammar is set
    fed: int = 0  # answer tokens whose keys and values are in the batch's cache (the rest go in the next step)

    def start(self, tokenizer, eos_ids=()) -> TextStream:
        self.text = TextStream(lambda ids: tokenizer.decode(ids, skip_special_tokens=True), self.params.stop)
        self.ids = self.text.ids
        if self.params.grammar is not None:
            from tunesmith.serve.constrain import Constraint

            self.constraint = Constraint(self.params.grammar, tokenizer, sorted(eos_ids))
        return self.text

    def adjust(self, logits: torch.Tensor, generated: list[int]) -> torch.Tensor:
        """The request's logits processors; the constraint first follows tokens it has not seen yet."""
        if self.constraint is not None:
            for token in generated[self.constraint.consumed:]:
                self.constraint.accept(token)
        return adjusted_logits(logits, self.params, generated, self.constraint)

    def forced(self, size: int) -> int | None:
        """The next token when the request's grammar allows only one (None otherwise, and when the request asks
        for logprobs, which need the model's distribution at every token)."""
        if self.constraint is None or self.params.logprobs is not None:
            return None
        self._follow()
        return self.constraint.forced(size)

    def must_end(self) -> bool:
        """Whether the request's grammar allows nothing but the end of the answer now."""
        if self.constraint is None:
            return False
        self._follow()
        return self.constraint.only_end()

    def _follow(self) -> None:
        for token in self.ids[self.constraint.consumed:]:
            self.constraint.accept(token)

    def choose(self, logits: torch.Tensor) -> int:
        return next_token(self.adjust(logits, self.ids), self.params.temperature, self.params.top_p, self.generator)

    def push(self, token: int, logits: torch.Tensor | None = None) -> None:
        """Add a generated (non end-of-turn) token, with its logprobs when the request asked for them."""
        self.text.push(token)
        if self.params.logprobs is not None and logits is not None:
            self.pending.append(token_logprob(logits, token, self.params.logprobs))

    def send(self, final: bool) -> None:
        """Hand out the text that is safe to show, with the logprobs of the tokens it came from. Tokens whose
        text is never shown (a stop string's) take their logprobs with them."""
        delta = self.text.release(final)
        if delta:
            logprobs = None
            if self.params.logprobs is not None:
                logprobs, self.pending = self.pending, []
            self.sink(Delta(delta, logprobs))

    def finish(self, reason: str, end_token: int | None = None) -> None:
        self.done = True
        self.sink(Finished(reason, len(self.prompt_ids), len(self.ids), end_token=end_token))


class RunningBatch:
    # Tokens a grammar forces are appended without sampling and fed to the model together in the next step, one
    # forward for a whole `{"name": "` instead of one per token; an end it forces finishes the answer at once.
    # Greedy answers are the same token for token.
    fast_forward = True

    def __init__(self, loaded):
        self.loaded = loaded  # serve.registry.LoadedModel
        self.seqs: list[Sequence] = []
        self.cache = None
        self.mask: torch.Tensor | None = None
        self.positions: torch.Tensor | None = None
        self.generated = 0  # tokens sampled, for throughput metrics
        self.prefilled = 0  # prompt tokens computed (not reused from the prefix entry or a twin row)
        self.shared = None  # the PeftModel once a row of a LoRA adapter joined: mixed-adapter forwards go through it

    def __len__(self) -> int:
        return len(self.seqs)

    @property
    def can_join(self) -> bool:
        return not self.seqs or kvcache.supports_reshaping(self.cache)

    def _forward(self, rows: list[Sequence], **inputs):
        """One forward pass for `rows`; LoRA adapters on one base share it through PEFT's `adapter_names`."""
        first = rows[0].loaded
        if self.shared is None or (all(s.model_id == rows[0].model_id for s in rows) and first.shared is self.shared):
            with first.activate():
                return first.model(**inputs)
        # Rows of the base use "__base__"; a base acquired before any adapter attached is stale, so rely on
        # the batch's PeftModel rather than the row's own model object.
        return self.shared(**inputs, adapter_names=[s.loaded.adapter or "__base__" for s in rows])

    @torch.inference_mode()
    def add(self, seqs: list[Sequence]) -> None:
        """Prefill newcomers (one forward per model: the prefix entry and KV belong to one set of weights)."""
        groups: dict[int, list[Sequence]] = {}
        for seq in seqs:
            seq.loaded = seq.loaded or self.loaded
            groups.setdefault(id(seq.loaded), []).append(seq)
            if seq.loaded.shared is not None:
                self.shared = seq.loaded.shared
        for group in groups.values():
            self._prefill(group)

    def _prefill(self, seqs: list[Sequence]) -> None:
        """Prefill the distinct prompts of `seqs` once each: rows with the same prompt (the `n` choices of one
        request) copy its KV and last logits instead of computing them again."""
        from transformers import DynamicCache

        loaded = seqs[0].loaded
        config = loaded.model.config
        distinct: dict[tuple[int, ...], int] = {}
        rows = [distinct.setdefault(tuple(s.prompt_ids), len(distinct)) for s in seqs]
        if len(distinct) < len(seqs) and not kvcache.supports_reshaping(DynamicCache(config=config)):
            distinct, rows = {(i,): i for i in range(len(seqs))}, list(range(len(seqs)))  # rows cannot be copied
        firsts = [seqs[rows.index(r)] for r in range(len(distinct))]
        prompts = [s.prompt_ids for s in firsts]
        start = prefix.group_start(loaded.prefix, prompts)
        if start and kvcache.supports_reshaping(DynamicCache(config=config)):
            self._remember_start(firsts[0], prompts[0][:start])
        entry = loaded.prefix
        shared = prefix.shared_length(entry, prompts)
        suffixes = [p[shared:] for p in prompts]
        width = max(len(s) for s in suffixes)
        ids = torch.tensor([[loaded.pad_id] * (width - len(s)) + s for s in suffixes])
        mask = torch.tensor([[1] * shared + [0] * (width - len(s)) + [1] * len(s) for s in suffixes])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = prefix.seeded_cache(config, entry, shared, len(firsts)) if shared else DynamicCache(config=config)
        out = self._forward(firsts, input_ids=ids, attention_mask=mask, position_ids=positions[:, shared:],
                            cache=cache, use_cache=True, logits_to_keep=1)
        self.prefilled += sum(len(s) for s in suffixes)
        if kvcache.supports_reshaping(cache):
            loaded.prefix = prefix.remember(cache, prompts)
        logits = out.logits[:, -1, :]
        if len(firsts) < len(seqs):
            index = torch.tensor(rows)
            kvcache.take_rows(cache, index)
            mask, positions, logits = mask[index], positions[index], logits[index]
        for seq in seqs:
            seq.generator = make_generator(seq.params.seed)
            seq.start(loaded.tokenizer, loaded.eos_ids)
        if self.seqs:
            self.cache, self.mask = kvcache.merge(self.cache, self.mask, cache, mask)
            self.positions = torch.cat([self.positions, positions[:, -1] + 1])
        else:
            self.cache, self.mask, self.positions = cache, mask, positions[:, -1] + 1
        self.seqs.extend(seqs)
        self._advance(logits, first_new=len(self.seqs) - len(seqs))

    def _remember_start(self, seq: Sequence, ids: list[int]) -> None:
        """Prefill the group's shared start alone and make it the model's prefix entry (reusing what the current
        entry already holds of it)."""
        from transformers import DynamicCache

        loaded = seq.loaded
        config = loaded.model.config
        shared = prefix.shared_length(loaded.prefix, [ids])  # group_start made sure it leaves >= 32 to compute
        cache = prefix.seeded_cache(config, loaded.prefix, shared, 1) if shared else DynamicCache(config=config)
        self._forward([seq], input_ids=torch.tensor([ids[shared:]]), attention_mask=torch.ones(1, len(ids),
                      dtype=torch.long), position_ids=torch.arange(shared, len(ids))[None, :], cache=cache,
                      use_cache=True, logits_to_keep=1)
        self.prefilled += len(ids) - shared
        loaded.prefix = prefix.remember(cache, [ids])

    @torch.inference_mode()
    def step(self) -> None:
        """One forward over each row's tokens not yet in the cache: the last one sampled, after the tokens its
        grammar forced. Shorter rows are left-padded (masked out), so every row's next logits are the last."""
        feed = [s.ids[s.fed:] for s in self.seqs]
        lengths = torch.tensor([len(f) for f in feed])
        width = int(lengths.max())
        ids = torch.tensor([[self.loaded.pad_id] * (width - len(f)) + f for f in feed])
        offsets = torch.arange(width)[None, :] - (width - lengths)[:, None]  # negative on the padding
        self.mask = torch.cat([self.mask, (offsets >= 0).to(self.mask.dtype)], dim=1)
        out = self._forward(self.seqs, input_ids=ids, attention_mask=self.mask,
                            position_ids=self.positions[:, None] + offsets.clamp(min=0), cache=self.cache,
                            use_cache=True, logits_to_keep=1)
        self.positions = self.positions + lengths
        for seq in self.seqs:
            seq.fed = len(seq.ids)
        self._advance(out.logits[:, -1, :], first_new=0)

    def _advance(self, logits: torch.Tensor, first_new: int) -> None:
        for row in range(first_new, len(self.seqs)):
            seq = self.seqs[row]
            if seq.cancelled:
                seq.done = True
                continue
            try:
                token = seq.choose(logits[row - first_new])
                self._emit(seq, token, int(self.positions[row]), logits[row - first_new])
            except ConstraintError as err:  # this request's grammar failed; the other rows carry on
                seq.done = True
                seq.sink(Failed(err))
        keep = [i for i, s in enumerate(self.seqs) if not s.done]
        if len(keep) < len(self.seqs):
            self.seqs = [self.seqs[i] for i in keep]
            if keep:
                self.mask = kvcache.keep_rows(self.cache, self.mask, keep)
                self.positions = self.positions[torch.tensor(keep, dtype=torch.long)]
            else:
                self.cache = self.mask = self.positions = None

    def _emit(self, seq: Sequence, token: int, position: int, logits: torch.Tensor) -> None:
        """Add a sampled token, then the tokens the grammar forces after it (fast_forward), the end included,
        until the answer ends or the model has a choice again."""
        size, row_logits = logits.shape[-1], logits
        while True:
            self.generated += 1
            if token in seq.loaded.eos_ids:
                seq.send(final=True)
                seq.finish("stop", token)
                return
            seq.push(token, row_logits)
            # A grammar that allows only the end forces it too: the answer is whole, even where it also fills
            # max_tokens, and no forward is spent sampling the end token.
            complete = self.fast_forward and seq.must_end()
            out_of_room = len(seq.ids) >= seq.params.max_tokens or position + 1 >= seq.loaded.context_length
            seq.send(final=out_of_room or complete)
            if seq.text.stopped or out_of_room or complete:
                seq.finish("length" if out_of_room and not (seq.text.stopped or complete) else "stop")
                return
            forced = seq.forced(size) if self.fast_forward else None
            if forced is None:
                return
            token, position, row_logits = forced, position + 1, None

    def fail(self, error: BaseException) -> None:
        for seq in self.seqs:
            if not seq.done:
                seq.done = True
                seq.sink(Failed(error))
        self.seqs = []


@torch.inference_mode()
def plain_generate(loaded, seq: Sequence) -> int:
    """Answer one sequence with `model.generate` (no streaming granularity); returns tokens generated."""
    from transformers import LogitsProcessorList

    from tunesmith.serve.constrain import GenerateProcessor

    params = seq.params
    ids = torch.tensor([seq.prompt_ids])
    seq.start(loaded.tokenizer, loaded.eos_ids)
    kwargs = {"max_new_tokens": params.max_tokens, "pad_token_id": loaded.pad_id,
              "eos_token_id": sorted(loaded.eos_ids) or None, "do_sample": params.temperature > 0,
              "return_dict_in_generate": True, "output_logits": params.logprobs is not None,
              "logits_processor": LogitsProcessorList([GenerateProcessor(seq.adjust, ids.shape[1])])}
    if params.temperature > 0:
        if params.seed is not None:
            torch.manual_seed(params.seed)
        kwargs.update(temperature=params.temperature, top_p=params.top_p)
    with loaded.activate():
        out = loaded.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
    new = out.sequences[0, ids.shape[1]:].tolist()
    ended = next((i for i, t in enumerate(new) if t in loaded.eos_ids), None)
    seq.ids = new[:ended] if ended is not None else new
    decode = lambda part: loaded.tokenizer.decode(part, skip_special_tokens=True)  # noqa: E731
    text, stopped = releasable(decode(seq.ids), params.stop, final=True)
    if text:
        logprobs = None
        if params.logprobs is not None:  # the tokens up to the one that completes the text shown
            shown = next((i for i in range(1, len(seq.ids) + 1) if len(decode(seq.ids[:i])) >= len(text)),
                         len(seq.ids)) if stopped else len(seq.ids)
            logprobs = [token_logprob(out.logits[i][0], token, params.logprobs)
                        for i, token in enumerate(seq.ids[:shown])]
        seq.sink(Delta(text, logprobs))
    seq.finish("stop" if ended is not None or stopped else "length", new[ended] if ended is not None else None)
    return len(new)
