"""Diagnostics: worst examples, biggest changes vs base, loss curves with an overfitting verdict."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from tunesmith.evaluate.metrics import token_f1
from tunesmith.evaluate.overfitting import default_patience, evaluations, find_overfitting, run_patience
from tunesmith.evaluate.summary import LOWER_IS_BETTER

TRAIN_KEYS = ("train_loss", "loss")
EVAL_KEYS = ("eval_loss", "val_loss", "validation_loss")


def _question(item) -> str:
    if hasattr(item, "text"):
        return item.text
    users = [m["content"] for m in item.prompt if m["role"] == "user"]
    return users[-1] if users else item.prompt[-1]["content"]


def _reference(item) -> str:
    return getattr(item, "reference", None) or getattr(item, "label", "")


def _score(values: Sequence[float], i: int) -> float:
    value = values[i]
    return 0.0 if value is None or math.isnan(value) else value


def worst_examples(items, run, baselines, primary: str, limit: int) -> list[dict]:
    """The held-out items where the run scores lowest on the primary metric. Ties: lowest token F1 first
    (generation), most confident mistake first (classification)."""
    sign = -1 if primary in LOWER_IS_BETTER else 1
    if "token_f1" in run.per_item:
        secondary = run.per_item["token_f1"]
    else:
        secondary = [-c for c in run.per_item.get("confidence", run.per_item[primary])]
    order = sorted(range(len(items)), key=lambda i: (sign * _score(run.per_item[primary], i), _score(secondary, i)))
    return [_example(items, i, run, baselines, primary) for i in order[:limit]]


def biggest_changes(items, run, base, primary: str, limit: int) -> list[dict]:
    """Items where the run's answer moved furthest from the base model's, by score change then by wording."""
    def change(i: int) -> tuple[float, float]:
        delta = abs(_score(run.per_item[primary], i) - _score(base.per_item.get(primary, [0.0] * len(items)), i))
        return delta, 1 - token_f1(run.outputs[i], base.outputs[i])

    order = sorted(range(len(items)), key=change, reverse=True)
    return [_example(items, i, run, [base], primary) for i in order[:limit]]


def _example(items, i: int, run, others, primary: str) -> dict:
    outputs = {r.name: {"output": r.outputs[i], primary: r.per_item.get(primary, [None] * len(items))[i]}
               for r in [*others, run]}
    return {"id": items[i].id, "question": _question(items[i]), "reference": _reference(items[i]),
            "facts": list(getattr(items[i], "facts", []) or []), "outputs": outputs}


def top_confusions(details: dict, limit: int) -> list[dict]:
    """The most frequent (true label → predicted label) mistakes from a confusion matrix."""
    labels, matrix = details.get("labels") or [], details.get("confusion_matrix") or []
    pairs = [{"true": labels[i], "predicted": labels[j], "count": count}
             for i, row in enumerate(matrix) for j, count in enumerate(row) if i != j and count]
    return sorted(pairs, key=lambda p: -p["count"])[:limit]


def read_loss_curve(run_dir: Path) -> dict[str, list[tuple[float, float]]]:
    """(step, loss) pairs for train and validation from the run's training metrics; empty when absent."""
    from tunesmith.runs import RunFolder

    curves: dict[str, list[tuple[float, float]]] = {"train": [], "validation": []}
    for entry in RunFolder(run_dir).metric_rows():
        if "step" not in entry:
            continue
        split = str(entry.get("split", "")).lower()
        for key in EVAL_KEYS:
            if isinstance(entry.get(key), int | float):
                curves["validation"].append((entry["step"], float(entry[key])))
        for key in TRAIN_KEYS:
            if isinstance(entry.get(key), int | float):
                target = "validation" if split in {"validation", "eval", "val"} else "train"
                curves[target].append((entry["step"], float(entry[key])))
                break
    return curves


def overfitting_verdict(curves: dict[str, list[tuple[float, float]]], patience: int | None = None) -> str:
    """Plain words from the loss curves under the one overfitting rule (evaluate/overfitting.py), so the
    report and the model card say what the live training warning said. `patience`: the run's
    training.overfit_patience (the schema's default when not given)."""
    patience = patience or default_patience()
    points = evaluations(curves)
    if len(points) < 2:
        return "Not enough validation points to judge overfitting (validate more often: training.eval_every)."
    best = min(points, key=lambda p: p.val_loss)
    found = find_overfitting(points, patience)
    if found:
        lowest = (f"validation loss later fell again, to its lowest ({best.val_loss:.3f}) at step {best.step:g}"
                  if best.step > found.end.step else
                  f"the checkpoint at step {best.step:g} (lowest validation loss, {best.val_loss:.3f}) is likely "
                  "better")
        return (f"Overfitting: {found.message()}. Train fewer epochs, lower the learning rate, or add data; "
                f"{lowest}.")
    before, last = points[-2].val_loss, points[-1].val_loss
    if last < before:
        return (f"No overfitting: validation loss was still falling at the end ({before:.3f} → {last:.3f}); "
                f"more epochs may help.")
    if last > before:
        return (f"No overfitting: validation loss rose at the end ({before:.3f} → {last:.3f}) but not {patience} "
                f"evaluations in a row while training loss fell; best {best.val_loss:.3f} at step {best.step:g}.")
    return f"No overfitting: validation loss has levelled off at {last:.3f} (best {best.val_loss:.3f})."


def diagnose(comparison, limit: int) -> dict:
    """Everything the report shows beyond the metric table, as plain data."""
    runs = [r for r in comparison.results if r.kind == "run"]
    baselines = [r for r in comparison.results if r.kind != "run"]
    out: dict = {"runs": {}}
    for run in runs:
        entry: dict = {"worst": worst_examples(comparison.items, run, baselines, comparison.primary, limit)}
        if baselines:
            entry["changed_vs"] = baselines[0].name
            entry["biggest_changes"] = biggest_changes(comparison.items, run, baselines[0], comparison.primary, limit)
        if run.details.get("confusion_matrix"):
            entry["confusions"] = top_confusions(run.details, limit)
        if run.run_dir is not None:
            curves = read_loss_curve(run.run_dir)
            entry["loss_curves"] = {k: [list(p) for p in v] for k, v in curves.items()}
            entry["overfitting"] = overfitting_verdict(curves, run_patience(run.run_dir))
        out["runs"][run.name] = entry
    if not runs and comparison.results:
        best = comparison.results[-1]
        out["worst"] = worst_examples(comparison.items, best, comparison.results[:-1], comparison.primary, limit)
    return out
