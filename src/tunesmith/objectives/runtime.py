"""How the one training loop runs an objective: its examples, their collation and the summed loss.

`for_config(config)` gives the loop what it calls: `encode` (records -> examples), `collate` (examples ->
tensors), `loss_sum` (model, batch -> summed loss, examples, statistics) and `metrics` (validation sums ->
val_loss, val_accuracy, ...). SFT keeps the loop's original encoding and loss (train/encode.py, train/loss.py).

A preference example trains two sequences (prompt + chosen, prompt + rejected; rated answers: the answer, and
the prompt with another example's answer for KTO's KL baseline). Only answer tokens are scored. The
reference model's log-probs are computed once before training by `attach_reference`, on the freshly
prepared model: adapter methods run it with the adapter switched off (`Method.base_only`), whole-model
methods before their first step, so no method keeps a second copy of the model in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunesmith.errors import DataError

if TYPE_CHECKING:
    import torch

    from tunesmith.config import ProjectConfig
    from tunesmith.objectives.registry import Objective
    from tunesmith.train.encode import Example



@dataclass
class PairExample:
    chosen: Example
    rejected: Example
    ref: tuple[float, float] | None = None  # reference log-probs of (chosen, rejected)
    targets: int = 1  # the loop divides the summed loss by the step's example count

    def __len__(self) -> int:
        return max(len(self.chosen), len(self.rejected))


@dataclass
class RatedExample:
    answer: Example
    mismatched: Example  # this prompt with another example's answer (KTO's KL baseline)
    desirable: bool
    ref: tuple[float, float] | None = None  # reference log-probs of (answer, mismatched)
    targets: int = 1

    def __len__(self) -> int:
        return max(len(self.answer), len(self.mismatched))


def record_kind(record: dict) -> str:
    if record.get("rejected") is not None:
        return "pairs"
    return "ratings" if record.get("desirable") is not None else "demonstrations"


def _answer_example(tokenizer, prompt_ids: list[int], answer: str, max_length: int) -> Example:
    from tunesmith.train.encode import IGNORE, Example, end_of_turn_id

    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"] + [end_of_turn_id(tokenizer)]
    ids = (prompt_ids + answer_ids)[:max_length]
    labels = ([IGNORE] * len(prompt_ids) + answer_ids)[:max_length]
    return Example(ids, labels, sum(1 for t in labels[1:] if t != IGNORE))


def _prompt_ids(tokenizer, record: dict) -> list[int]:
    from tunesmith.inference import render_prompt

    return tokenizer(render_prompt(tokenizer, record["messages"][:-1]), add_special_tokens=False)["input_ids"]


def encode_preferences(tokenizer, records: Sequence[dict], kind: str, max_length: int) -> list:
    """Pairs or rated answers; a prompt that leaves no room for an answer is one error naming the records."""
    kinds = {record_kind(r) for r in records}
    if kinds - {kind}:
        found = ", ".join(sorted(kinds - {kind}))
        raise DataError(f"the objective trains on {kind} but the data also holds {found}",
                        "Use a dataset of chosen/rejected pairs for dpo, orpo and simpo, of rated answers "
                        "(desirable true/false) for kto, or set training.objective: sft.")
    prompts = [_prompt_ids(tokenizer, r) for r in records]
    overlong = [r.get("id", "?") for r, p in zip(records, prompts, strict=True) if len(p) >= max_length - 1]
    if overlong:
        raise DataError(f"{len(overlong)} record(s) have a prompt of model.max_length ({max_length}) tokens or more, "
                        f"leaving no room for the answer (first: {', '.join(map(str, overlong[:3]))})",
                        "Raise model.max_length, or shorten those prompts.")
    answers = [r["messages"][-1]["content"] for r in records]
    if kind == "pairs":
        return [PairExample(_answer_example(tokenizer, p, a, max_length),
                            _answer_example(tokenizer, p, r["rejected"], max_length))
                for r, p, a in zip(records, prompts, answers, strict=True)]
    # KTO's KL baseline pairs each prompt with the next example's answer (fixed, so resuming sees the same)
    rows = enumerate(zip(records, prompts, answers, strict=True))
    return [RatedExample(_answer_example(tokenizer, p, a, max_length),
                         _answer_example(tokenizer, p, answers[(i + 1) % len(answers)], max_length),
                         bool(r["desirable"])) for i, (r, p, a) in rows]


def _rows(examples: Sequence[Example], pad_id: int, prefix: str = "") -> dict:
    from tunesmith.train.batching import collate

    return {f"{prefix}{k}": v for k, v in collate(list(examples), pad_id).items()}


def collate_pairs(examples: Sequence[PairExample], pad_id: int, classification: bool = False) -> dict:
    """Chosen answers in the first half of the rows, rejected in the second; reference log-probs beside them."""
    import torch

    batch = _rows([e.chosen for e in examples] + [e.rejected for e in examples], pad_id)
    if all(e.ref is not None for e in examples):
        batch["ref"] = torch.tensor([e.ref for e in examples], dtype=torch.float32)
    return batch


def collate_rated(examples: Sequence[RatedExample], pad_id: int, classification: bool = False) -> dict:
    import torch

    batch = _rows([e.answer for e in examples], pad_id)
    batch.update(_rows([e.mismatched for e in examples], pad_id, "kl_"))
    batch["desirable"] = torch.tensor([e.desirable for e in examples])
    if all(e.ref is not None for e in examples):
        batch["ref"] = torch.tensor([e.ref for e in examples], dtype=torch.float32)
    return batch


def sequence_logps(model, batch: dict, virtual_tokens: bool, prefix: str = "") -> tuple[torch.Tensor, torch.Tensor]:
    """Per row: summed log-probability of the labelled tokens, and how many there are. The vocabulary head
    runs only on those positions, as in train/loss.py."""
    import torch
    import torch.nn.functional as F

    from tunesmith.train.encode import IGNORE
    from tunesmith.train.loss import _can_skip_logits, unwrap

    ids, mask = batch[f"{prefix}input_ids"], batch[f"{prefix}attention_mask"]
    labels = batch[f"{prefix}labels"][:, 1:]
    keep = labels != IGNORE
    if not virtual_tokens and _can_skip_logits(model):
        base = unwrap(model)
        hidden = base.get_decoder()(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
        logits = base.get_output_embeddings()(hidden[:, :-1][keep])
    else:
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, -ids.shape[1]:-1][keep]
    token_logps = -F.cross_entropy(logits.float(), labels[keep], reduction="none")
    rows = keep.nonzero()[:, 0]
    sums = torch.zeros(ids.shape[0], dtype=token_logps.dtype, device=ids.device).index_add(0, rows, token_logps)
    return sums, keep.sum(dim=1)


@dataclass
class Sft:
    """The loop's original objective: cross-entropy on labelled tokens (or classes)."""

    name: str = "sft"

    def encode(self, tokenizer, records, task, max_length, labels=None, train_on_prompt=False):
        from tunesmith.train.encode import encode_records

        kinds = {record_kind(r) for r in records} - {"demonstrations"}
        if kinds and all(record_kind(r) == "ratings" for r in records):
            raise DataError("the data holds rated answers only; sft would learn the bad answers too",
                            "Set training.objective: kto, or use demonstrations or chosen/rejected pairs.")
        return encode_records(tokenizer, records, task, max_length, labels, train_on_prompt)

    def collate(self, examples, pad_id, classification=False):
        from tunesmith.train.batching import collate

        return collate(examples, pad_id, classification)

    def loss_sum(self, model, batch, task, virtual_tokens):
        from tunesmith.train.loss import loss_sum

        loss, count, correct = loss_sum(model, batch, task, virtual_tokens)
        return loss, count, {"correct": float(correct)}

    def metrics(self, task: str, total: float, count: float, stats: dict) -> dict:
        result = {"val_loss": total / count if count else float("nan")}
        if task == "classification":
            result["val_accuracy"] = stats["correct"] / count if count else float("nan")
        return result


@dataclass
class Preference:
    """A preference objective (dpo, kto, orpo, simpo) on pairs or rated answers."""

    objective: Objective
    options: Any
    # examples per reference chunk: the training micro-batch's, so the reference pass (forward only, on as many
    # sequences) never needs more memory than a training step
    reference_batch: int = 8

    @property
    def name(self) -> str:
        return self.objective.name

    def encode(self, tokenizer, records, task, max_length, labels=None, train_on_prompt=False):
        if task != "chat":
            raise DataError(f"training.objective: {self.name} needs chat data (objective.task is {task})",
                            "Set objective.task: chat, or training.objective: sft.")
        return encode_preferences(tokenizer, records, self.objective.data, max_length)

    def collate(self, examples, pad_id, classification=False):
        return (collate_pairs if self.objective.data == "pairs" else collate_rated)(examples, pad_id)

    def loss_sum(self, model, batch, task, virtual_tokens):
        import torch

        from tunesmith.objectives.losses import PairLogps, RatedLogps

        sums, counts = sequence_logps(model, batch, virtual_tokens)
        ref = batch.get("ref")
        if self.objective.data == "pairs":
            half = sums.shape[0] // 2
            logps = PairLogps(sums[:half], sums[half:], counts[:half], counts[half:],
                              None if ref is None else ref[:, 0], None if ref is None else ref[:, 1])
            losses, chosen, rejected = self.objective.loss(logps, self.options)
            sign = torch.ones_like(chosen)
        else:
            with torch.no_grad():
                kl, _ = sequence_logps(model, batch, virtual_tokens, "kl_")
            logps = RatedLogps(sums, batch["desirable"], ref[:, 0], kl, ref[:, 1])
            losses, chosen, _ = self.objective.loss(logps, self.options)
            sign = torch.where(batch["desirable"], 1.0, -1.0).to(chosen.dtype)  # a good answer should score above 0
            rejected = torch.zeros_like(chosen)
        margin = sign * (chosen - rejected)
        return losses.sum(), int(losses.shape[0]), {"correct": float((margin > 0).sum()),
                                                    "margin": float(margin.sum())}

    def metrics(self, task: str, total: float, count: float, stats: dict) -> dict:
        if not count:
            return {"val_loss": float("nan"), "val_accuracy": float("nan"), "val_reward_margin": float("nan")}
        return {"val_loss": total / count, "val_accuracy": stats["correct"] / count,
                "val_reward_margin": stats["margin"] / count}


def for_config(config: ProjectConfig) -> Sft | Preference:
    from tunesmith.objectives import get_objective

    if config.objective.task == "embedding":  # pairs of texts and a contrastive loss (embeddings/objective.py)
        from tunesmith.embeddings.objective import objective_for

        return objective_for(config)

    objective = get_objective(config.training.objective)
    if objective.options is None:
        return Sft()
    return Preference(objective, getattr(config.preference, objective.name), config.training.batch_size)


def attach_reference(run: Sft | Preference, model, method, examples: Sequence, pad_id: int, device,
                     virtual_tokens: bool) -> None:
    """Store the reference model's log-probs on every example (dpo, kto); nothing for other objectives.

    Call on the freshly prepared model, before training or restoring a checkpoint: the reference is the
    model training starts from (the base with the adapter off, or a whole model before its first step)."""
    import contextlib

    import torch

    if not isinstance(run, Preference) or not run.objective.reference or not examples:
        return
    was_training = model.training
    model.eval()
    context = method.base_only(model) if method.base_only is not None else contextlib.nullcontext()
    pairs = run.objective.data == "pairs"
    order = sorted(examples, key=len)  # chunks of similar length waste little on padding, as training's do
    with torch.no_grad(), context:
        for start in range(0, len(order), run.reference_batch):
            chunk = order[start:start + run.reference_batch]
            first = [e.chosen if pairs else e.answer for e in chunk]
            second = [e.rejected if pairs else e.mismatched for e in chunk]
            batch = {k: v.to(device) for k, v in _rows(first + second, pad_id).items()}
            sums, _ = sequence_logps(model, batch, virtual_tokens)
            for i, example in enumerate(chunk):
                example.ref = (float(sums[i]), float(sums[len(chunk) + i]))
    model.train(was_training)
