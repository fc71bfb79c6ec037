"""Held-out preference scores (pure given log-probs): does a model give the chosen answer more probability
than the rejected one, and by how much more than the base model does?

Per item: preference_accuracy (1 when the chosen answer's summed log-probability exceeds the rejected one's),
logprob_margin (chosen minus rejected, in nats) and, for runs, reward_margin: that margin minus the run's
reference model's on the same item, i.e. DPO's implicit reward margin divided by β. A run's reference
(`link_references`) is the run it started from when it was trained on an hf export of a run in the comparison
(DPO after SFT: the SFT run), else the base model. Each metric gets a CI and the paired tests; a run is also
tested against its reference run on every metric, so the report answers "did preference tuning help beyond
SFT, and did the task metrics hold?" (summary.preference_verdict).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

PREFERENCE_METRICS = ("preference_accuracy", "reward_margin", "logprob_margin")
BASE = "base zero-shot"


def pair_logps(model, tokenizer, prompts: Sequence[list[dict]], chosen: Sequence[str], rejected: Sequence[str],
               batch_size: int = 8, max_length: int | None = None) -> list[tuple[float, float]]:
    """Summed log-probs of (chosen, rejected) after each prompt, encoded exactly as preference training does
    (up to the model's context length unless `max_length` says less)."""
    import torch

    from tunesmith.objectives.runtime import collate_pairs, encode_preferences, sequence_logps

    records = [{"id": str(i), "messages": [*p, {"role": "assistant", "content": c}], "rejected": r}
               for i, (p, c, r) in enumerate(zip(prompts, chosen, rejected, strict=True))]
    context = getattr(getattr(model, "config", None), "max_position_embeddings", None) or 2048
    examples = encode_preferences(tokenizer, records, "pairs", max_length or context)
    config = getattr(model, "active_peft_config", None)
    virtual = bool(getattr(config, "is_prompt_learning", False))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = next(model.parameters()).device
    model.eval()
    scores: list[tuple[float, float]] = []
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            chunk = examples[start:start + batch_size]
            batch = {k: v.to(device) for k, v in collate_pairs(chunk, pad).items()}
            sums, _ = sequence_logps(model, batch, virtual)
            scores += [(float(sums[i]), float(sums[len(chunk) + i])) for i in range(len(chunk))]
    return scores


def per_item(scores: Sequence[tuple[float, float] | None]) -> dict[str, list[float]]:
    """preference_accuracy and logprob_margin per item (NaN where an item has no rejected answer)."""
    nan = float("nan")
    return {"preference_accuracy": [nan if s is None else float(s[0] > s[1]) for s in scores],
            "logprob_margin": [nan if s is None else s[0] - s[1] for s in scores]}


def started_from(run_dir: Path | None) -> Path | None:
    """The run whose hf export a run was trained on (`model.name` an export folder: export.json names the run)."""
    import json

    from tunesmith.deploy.export import META_FILE
    from tunesmith.runs import RunFolder

    if run_dir is None:
        return None
    base = RunFolder(run_dir).info().base_model_path
    try:
        meta = json.loads((Path(base) / META_FILE).read_text(encoding="utf-8")) if base else {}
    except (OSError, ValueError):
        return None
    return Path(meta["run_dir"]).resolve() if isinstance(meta.get("run_dir"), str) else None


def link_references(results: Sequence, starts: dict[str, Path | None]) -> None:
    """Set each run's `reference` (pure given `starts`: run name -> the run it started from, or None): that run
    when it is in the comparison; none when it is not (its margins cannot be told); else the base model."""
    by_dir = {Path(r.run_dir).resolve(): r.name for r in results if r.run_dir is not None}
    has_base = any(r.name == BASE for r in results)
    for result in results:
        if result.kind != "run":
            continue
        start = starts.get(result.name)
        result.reference = by_dir.get(start) if start is not None else (BASE if has_base else None)


def add_reward_margins(results: Sequence) -> None:
    """Each run's logprob_margin minus its reference model's, item by item (`link_references` first)."""
    by_name = {r.name: r for r in results}
    for result in results:
        reference = by_name.get(result.reference or "")
        if result.kind != "run" or reference is None or "logprob_margin" not in result.per_item or \
                "logprob_margin" not in reference.per_item:
            continue
        result.per_item["reward_margin"] = [
            a - b if not (math.isnan(a) or math.isnan(b)) else float("nan")
            for a, b in zip(result.per_item["logprob_margin"], reference.per_item["logprob_margin"], strict=True)]
