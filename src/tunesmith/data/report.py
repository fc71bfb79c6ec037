"""The manifest (what was done, with every count) and the self-contained HTML report."""

from __future__ import annotations

import json
import statistics
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from itertools import islice

from tunesmith.data.dataset import SPLITS, PreparedDataset
from tunesmith.data.dedup import record_text


def length_summary(lengths: list[int]) -> dict:
    if not lengths:
        return {}
    ordered = sorted(lengths)

    def pct(p: float) -> int:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return {"count": len(ordered), "min": ordered[0], "mean": round(statistics.fmean(ordered), 1),
            "p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": ordered[-1]}


_LISTED_ERRORS = 100  # distinct (collapsed) problems kept in the manifest; every row is in rejects.jsonl
# the order of the pipeline, so the summary reads top to bottom
COUNT_ORDER = ("read", "rejected", "html_stripped", "normalized", "pii_masked", "exact_duplicates",
               "dropped_exact_duplicates", "near_duplicates", "dropped_near_duplicates", "conflicting_duplicates",
               "dropped_conflicts", "overlong", "too_short", "dropped_by_length", "weight_repeats", "weight_skipped",
               "augmented", "small_classes", "train", "validation", "test")


class Tally:
    """Statistics gathered while the splits stream to disk (labels, lengths, words), so nothing is
    held in memory twice."""

    def __init__(self, spelling: bool = False):
        self.labels: dict[str, dict[str, int]] = {}
        self.chars = array("q")  # 8 bytes per record; a list of ints costs ~36
        self.words: Counter | None = Counter() if spelling else None

    def watch(self, split: str, records: Iterable[dict]) -> Iterator[dict]:
        for record in records:
            if "label" in record:
                per_split = self.labels.setdefault(record["label"], dict.fromkeys(SPLITS, 0))
                per_split[split] += 1
            text = record_text(record)
            self.chars.append(len(text))
            if self.words is not None:
                from tunesmith.data.spelling import count_words

                count_words(text, self.words)
            yield record


def build_manifest(project, version: str, hashes: list[str], state, dedup, tally: Tally, schema: dict) -> dict:
    config = project.config.data
    raw = {**state.counts, "read": sum(s.rows for s in state.sources), "rejected": len(state.rejects)}
    counts = {key: raw[key] for key in COUNT_ORDER if key in raw}
    counts.update(sorted((key, value) for key, value in raw.items() if key not in counts))
    labels = dict(sorted(tally.labels.items()))
    warnings = [issue.to_dict() for issue in state.warnings]
    if project.config.objective.task == "classification":
        for label, per_split in labels.items():
            if per_split["train"] < config.min_class_examples:
                warnings.append({"file": "", "line": 0, "field": "label", "severity": "warning",
                                 "message": f"class '{label}' has only {per_split['train']} training examples",
                                 "hint": f"Add examples (≥ {config.min_class_examples}) or set data.augment.copies."})
    sources = [{**vars(summary), "sha256": digest} for summary, digest in zip(state.sources, hashes, strict=True)]
    spelling = None
    if tally.words is not None:
        from tunesmith.data.spelling import misspellings

        spelling = misspellings(tally.words)
    return {
        "version": version, "task": project.config.objective.task,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config.model_dump(mode="json"), "sources": sources, "counts": counts,
        "schema": schema, "labels": labels, "warnings": warnings,
        "errors": [issue.to_dict() for issue in state.errors.issues[:_LISTED_ERRORS]],
        "lengths": {"characters": length_summary(tally.chars), "histogram": _histogram(tally.chars)},
        "duplicate_clusters": dedup.top_clusters(), "conflicts": dedup.conflict_examples,
        "tokens": None, "spelling": spelling,
    }


def _histogram(values: list[int], bins: int = 30) -> dict:
    if not values:
        return {"edges": [], "counts": []}
    import numpy as np

    counts, edges = np.histogram(values, bins=bins)
    return {"edges": [round(float(e), 1) for e in edges], "counts": [int(c) for c in counts]}


def add_token_stats(dataset: PreparedDataset, tokenizer, max_length: int, lengths: list[int] | None = None) -> dict:
    """Token length distribution, overlong count and completion-only trained share, saved to the manifest."""
    from tunesmith.data.tokens import token_lengths, trained_share

    if lengths is None:  # streamed a batch at a time: the splits may not fit in memory as dicts
        lengths = []
        for name in SPLITS:
            for batch in _batches(dataset.iter_split(name), 4096):
                lengths += token_lengths(batch, tokenizer, dataset.task)
    stats = {"tokenizer": getattr(tokenizer, "name_or_path", ""), "max_length": max_length,
             **length_summary(lengths), "overlong": sum(n > max_length for n in lengths),
             "overlong_action": dataset.manifest["config"]["overlong"],
             "histogram": _histogram(lengths),
             "trained_share": trained_share(list(islice(dataset.iter_split("train", 300), 300)), tokenizer)
             if dataset.task == "chat" else None}
    dataset.manifest["tokens"] = stats
    (dataset.path / "manifest.json").write_text(json.dumps(dataset.manifest, indent=2, ensure_ascii=False),
                                                encoding="utf-8")
    return stats


def _batches(records: Iterator[dict], size: int) -> Iterator[list[dict]]:
    while batch := list(islice(records, size)):
        yield batch


def write_report(dataset: PreparedDataset) -> None:
    from tunesmith.data.html_report import render_html

    dataset.report_path.write_text(render_html(dataset), encoding="utf-8")
