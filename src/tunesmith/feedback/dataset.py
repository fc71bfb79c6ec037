"""Corrected feedback becomes a new dataset version: the parent's train split plus the corrections, with
the parent's validation and test files copied byte for byte so scores stay comparable.

Corrections go through the data pipeline (`tunesmith.data.prepare`: validation, cleaning, dedup) on
their own, then are checked against the parent: a correction whose input matches a held-out example is
dropped (it would leak the test into training), and one identical to a training example adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from tunesmith.errors import DataError
from tunesmith.feedback.monitor_report import input_text


@dataclass
class FeedbackDataset:
    dataset: object  # tunesmith.data.PreparedDataset
    feedback_ids: list[int]
    added: int
    dropped: dict[str, int] = field(default_factory=dict)


def feedback_records(rows: Sequence[dict], task: str) -> list[dict]:
    """Canonical records from feedback rows ({id, response_id, messages, correction, label}) (pure)."""
    records = []
    for row in rows:
        meta = {"source": "feedback", "feedback_id": row["id"], "response_id": row.get("response_id")}
        if task == "classification":
            label = row.get("label") or row.get("correction")
            text = input_text({"messages": row.get("messages") or []})
            if label and text:
                records.append({"id": f"feedback-{row['id']}", "text": text, "label": label, "meta": meta})
            continue
        answer = row.get("correction")
        prompt = [{"role": m.get("role", "user"), "content": m.get("content") or ""}
                  for m in row.get("messages") or [] if isinstance(m, dict)]
        while prompt and prompt[-1]["role"] == "assistant":  # the answer being corrected, if it was sent
            prompt.pop()
        if answer and any(m["role"] == "user" for m in prompt):
            records.append({"id": f"feedback-{row['id']}", "messages": [*prompt, {"role": "assistant",
                                                                                   "content": answer}],
                            "meta": meta})
    return records


def _near_any(candidates: np.ndarray, others: np.ndarray, threshold: float, chunk: int = 64) -> np.ndarray:
    """For each candidate MinHash signature: is any of `others` at least `threshold` similar?"""
    hits = np.zeros(len(candidates), dtype=bool)
    if not len(candidates) or not len(others):
        return hits
    for start in range(0, len(candidates), chunk):
        block = candidates[start:start + chunk]
        similar = (block[:, None, :] == others[None, :, :]).mean(axis=2)
        hits[start:start + chunk] = (similar >= threshold).any(axis=1)
    return hits


def split_overlaps(candidates: list[dict], train: list[dict], held_out: list[dict],
                   threshold: float) -> tuple[list[dict], dict[str, int]]:
    """Drop candidates whose input (near-)duplicates a held-out input, or that repeat a training record."""
    from tunesmith.data.dedup import fingerprint, record_input, record_text, signatures

    held_inputs = [record_input(r) or record_text(r) for r in held_out]
    inputs = [record_input(r) or record_text(r) for r in candidates]
    held_exact = {fingerprint(text) for text in held_inputs}
    near = _near_any(signatures(inputs) if inputs else np.empty((0, 1)),
                     signatures(held_inputs) if held_inputs else np.empty((0, 1)), threshold)
    train_exact = {fingerprint(record_text(r) + "\n" + r.get("label", "")) for r in train}
    kept, dropped = [], {"held_out_overlap": 0, "already_in_train": 0}
    for record, text, is_near in zip(candidates, inputs, near, strict=True):
        if is_near or fingerprint(text) in held_exact:
            dropped["held_out_overlap"] += 1
        elif fingerprint(record_text(record) + "\n" + record.get("label", "")) in train_exact:
            dropped["already_in_train"] += 1
        else:
            kept.append(record)
    return kept, dropped


def _clean_through_pipeline(project, records: list[dict]) -> tuple[list[dict], dict]:
    """Run records through `data.prepare` alone (all pinned to train), in a scratch project."""
    from tunesmith.data import prepare
    from tunesmith.project import Project

    config = project.config.model_copy(deep=True)
    with tempfile.TemporaryDirectory(prefix="tunesmith-feedback-") as scratch:
        source = Path(scratch) / "feedback.jsonl"
        source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        data = config.data.model_dump()
        data.update(sources=[{"path": str(source), "split": "train"}], validation_share=0.0, test_share=0.0)
        data["augment"]["copies"] = 0
        config.data = type(config.data).model_validate(data)
        try:
            prepared = prepare(Project(Path(scratch), config))
        except DataError as err:
            if "no usable records" in err.message:  # every correction was invalid: nothing to add
                return [], {"rejected": len(records)}
            raise
        return prepared.split("train"), dict(prepared.manifest.get("counts", {}))


def _version(parent: str, records: list[dict]) -> str:
    digest = hashlib.sha256(parent.encode())
    for record in sorted(records, key=lambda r: r["id"]):
        digest.update(json.dumps(record, sort_keys=True, ensure_ascii=False).encode())
    return f"{parent[:6]}-fb-{digest.hexdigest()[:6]}"


def build_feedback_version(project, parent, rows: Sequence[dict]) -> FeedbackDataset | None:
    """Write data/<version>/ = parent + cleaned corrections; None when no correction is left to add."""
    from tunesmith.data import load_prepared
    from tunesmith.data.dataset import write_split

    candidates = feedback_records(rows, parent.task)
    if not candidates:
        return None
    cleaned, counts = _clean_through_pipeline(project, candidates)
    train = parent.split("train")
    held_out = parent.split("validation") + parent.split("test")
    kept, dropped = split_overlaps(cleaned, train, held_out, project.config.data.near_duplicate_threshold)
    dropped["rejected_by_pipeline"] = len(candidates) - len(cleaned)
    ids = [r["meta"]["feedback_id"] for r in kept]
    if not kept:
        return FeedbackDataset(None, [], 0, dropped)
    version = _version(parent.version, kept)
    folder = project.data_dir / version
    if not (folder / "manifest.json").exists():
        staging = project.data_dir / f".staging-{version}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name in ("validation", "test"):
            if (parent.path / f"{name}.parquet").exists():
                shutil.copyfile(parent.path / f"{name}.parquet", staging / f"{name}.parquet")
        written = write_split(train + kept, staging / "train.parquet", parent.task)
        manifest = dict(parent.manifest)
        manifest.update(version=version, parent=parent.version, origin="feedback", tokens=None,
                        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        counts={**parent.manifest.get("counts", {}), "train": written},
                        feedback={"added": len(kept), "dropped": dropped, "pipeline_counts": counts,
                                  "feedback_ids": ids})
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        try:
            staging.rename(folder)
        except OSError:  # the same version was written meanwhile; it is identical
            shutil.rmtree(staging, ignore_errors=True)
    return FeedbackDataset(load_prepared(folder), ids, len(kept), dropped)
