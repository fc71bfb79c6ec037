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
from tunesmith.runs.contract import SharedSystemPrompt


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
               "dropped_conflicts", "overlong", "too_short", "dropped_by_length", "dropped_leaks", "weight_repeats",
               "weight_skipped",
               "augmented", "small_classes", "train", "validation", "test")


class Tally:
    """Statistics gathered while the splits stream to disk (labels, lengths, words), so nothing is
    held in memory twice."""

    def __init__(self, spelling: bool = False):
        self.labels: dict[str, dict[str, int]] = {}
        self.chars = array("q")  # 8 bytes per record; a list of ints costs ~36
        self.words: Counter | None = Counter() if spelling else None
        self.system_prompt = SharedSystemPrompt()  # of the training conversations: runs record it as their default

    def watch(self, split: str, records: Iterable[dict]) -> Iterator[dict]:
        for record in records:
            if "label" in record:
                per_split = self.labels.setdefault(record["label"], dict.fromkeys(SPLITS, 0))
                per_split[split] += 1
            if split == "train":
                self.system_prompt.add(record)
            text = record_text(record)
            self.chars.append(len(text))
            if self.words is not None:
                from tunesmith.data.spelling import count_words

                count_words(text, self.words)
            yield record


def build_manifest(project, version: str, hashes: list[str], state, dedup, tally: Tally, schema: dict,
                   leaks: Counter | None = None) -> dict:
    config = project.config.data
    # rejects.jsonl also lists the records dropped as copies of pinned records (dropped_leaks): not rejected rows
    raw = {**state.counts, "read": sum(s.rows for s in state.sources),
           "rejected": len(state.rejects) - state.counts["dropped_leaks"]}
    counts = {key: raw[key] for key in COUNT_ORDER if key in raw}
    counts.update(sorted((key, value) for key, value in raw.items() if key not in counts))
    labels = dict(sorted(tally.labels.items()))
    splits = split_origins(config, leaks or Counter())
    warnings = [issue.to_dict() for issue in state.warnings] + split_warnings(splits, counts)
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
        "config": config.model_dump(mode="json"), "sources": sources, "counts": counts, "splits": splits,
        "schema": schema, "labels": labels, "warnings": warnings,
        "errors": [issue.to_dict() for issue in state.errors.issues[:_LISTED_ERRORS]],
        "lengths": {"characters": length_summary(tally.chars), "histogram": _histogram(tally.chars)},
        "duplicate_clusters": dedup.top_clusters(), "conflicts": dedup.conflict_examples,
        "tokens": None, "spelling": spelling, "shared_system_prompt": tally.system_prompt.value,
    }


def split_origins(config, leaks: Counter) -> dict[str, dict]:
    """How each split was made: pinned by sources (used as given), carved from the unpinned records by a
    share, or none; train holds the rest."""
    pinned: dict[str, list[str]] = {}
    for source in config.sources:
        if source.split != "auto":
            pinned.setdefault(source.split, []).append(source.path)
    origins = {"train": {"origin": "rest", "sources": pinned.get("train", [])}}
    for name, share in (("validation", config.validation_share), ("test", config.test_share)):
        if name in pinned:
            origins[name] = {"origin": "pinned", "sources": pinned[name], "dropped_leaks": leaks[name]}
        else:
            origins[name] = {"origin": "carved" if share > 0 else "none", "share": share}
    return origins


def describe_system_prompt(manifest: dict) -> str | None:
    """The report's line on a system prompt all training conversations share (older manifests have none)."""
    prompt = manifest.get("shared_system_prompt")
    if prompt is None:
        return None
    return (f"every training conversation starts with the system prompt {prompt!r}: runs record it and every "
            "deployment adds it when a request brings none (objective.system_prompt sets another; \"\" none)")


def describe_split(manifest: dict, name: str) -> str:
    """One line on how a prepared split was made ("" for manifests older than this)."""
    splits = manifest.get("splits") or {}
    origin = splits.get(name)
    if not origin:
        return ""
    if origin["origin"] == "pinned":
        dropped = origin.get("dropped_leaks", 0)
        note = f"; {dropped} record(s) of other sources that duplicate it dropped" if dropped else ""
        return f"pinned by {', '.join(origin['sources'])}, used as given{note}"
    if origin["origin"] == "carved":
        rest = " left after test" if name == "validation" and splits["test"]["origin"] == "carved" else ""
        return f"carved by tunesmith: {origin['share']:.0%} of the unpinned records{rest}, stratified, whole groups"
    if origin["origin"] == "none":
        return f"none (data.{name}_share: 0)"
    pinned = f" and {', '.join(origin['sources'])} (pinned)" if origin.get("sources") else ""
    return f"the unpinned records not held out{pinned}"


def split_warnings(splits: dict[str, dict], counts: dict) -> list[dict]:
    """Say when evaluation cannot be honest: no test split, or a held-out split too small to carve."""
    warnings = []
    for name in ("test", "validation"):
        origin = splits[name]["origin"]
        if origin == "carved" and not counts.get(name):
            warnings.append({"file": "", "line": 0, "field": f"data.{name}_share", "severity": "warning",
                             "message": f"the {name} split is empty: too few unpinned records (or groups) to "
                                        "carve one and keep one for train",
                             "hint": "Add records, or pin a source to it (split: " + name + ")."})
    if splits["test"]["origin"] == "none":
        warnings.append({"file": "", "line": 0, "field": "data.test_share", "severity": "warning",
                         "message": "no test split: evaluation will score the validation split, which also "
                                    "chose the checkpoint, so its numbers are optimistic",
                         "hint": "Set data.test_share (e.g. 0.1) or pin a test source (split: test)."})
    return warnings


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
