"""Feedback becomes a new dataset version, with the parent's validation and test files copied byte for byte so
scores stay comparable. Its train split depends on the objective (`choose_objective`):
- sft: the parent's train split plus the corrections as demonstrations (the candidate retrains from the base);
- dpo: the corrections of a known answer as chosen/rejected pairs (served answer rejected, correction chosen),
  kto: answers rated good or bad without a correction; alone, since the candidate starts from the production
  model, which has learned the parent's train split (and is the reference model).

Feedback goes through the data pipeline (`tunesmith.data.prepare`: validation, cleaning, dedup) on its own, in
the formats a user would write (OpenAI chat, OpenAI DPO, rated), then is checked against the parent: a record
whose input matches a held-out example is dropped (it would leak the test into training), and one identical to
a training example adds nothing.
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
from typing import Literal

import numpy as np

from tunesmith.errors import DataError
from tunesmith.feedback.monitor_report import input_text

Signal = Literal["pair", "demonstration", "rating"]


@dataclass
class FeedbackDataset:
    dataset: object  # tunesmith.data.PreparedDataset
    feedback_ids: list[int]
    added: int
    dropped: dict[str, int] = field(default_factory=dict)


_TOOL_KEYS = ("tool_calls", "tool_call_id", "name")  # what a tool-use turn carries besides role and content


def _prompt(row: dict) -> list[dict]:
    """The conversation before the rated answer (an answer sent along with the prompt is dropped), with its
    tool calls and tool results."""
    prompt = [{"role": m.get("role", "user"), "content": m.get("content") or "",
               **{k: m[k] for k in _TOOL_KEYS if m.get(k)}}
              for m in row.get("messages") or [] if isinstance(m, dict)]
    while prompt and prompt[-1]["role"] == "assistant":
        prompt.pop()
    return prompt if any(m["role"] == "user" for m in prompt) else []


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _uses_tools(row: dict) -> bool:
    return bool(row.get("tools") or row.get("answer_tool_calls") or row.get("correction_tool_calls") or
                any(m.get("tool_calls") or m["role"] == "tool" for m in _prompt(row)))


def feedback_signal(row: dict, task: str) -> Signal | None:
    """What one feedback row can teach (pure): a pair (a correction of a known answer: the correction is chosen,
    the answer rejected), a demonstration (a correction alone), a rating (a known answer rated good or bad
    without a correction; 3 of 5 stars is neither), or nothing. Where tools are involved, a correction is a
    demonstration (a tool-use conversation) and a rating alone teaches nothing: the preference formats carry no
    tools."""
    if task == "classification":
        return "demonstration" if (row.get("label") or row.get("correction")) and row.get("messages") else None
    if task != "chat" or not _prompt(row):
        return None
    answer, correction = row.get("answer"), row.get("correction")
    if _uses_tools(row):
        return "demonstration" if correction or row.get("correction_tool_calls") else None
    if correction:
        return "pair" if answer and not _same(answer, correction) else "demonstration"
    score = row.get("score")
    return "rating" if answer and score is not None and score != 0.5 else None


# the signals each objective trains on (sft learns every correction, a pair's chosen side included)
USES: dict[str, tuple[Signal, ...]] = {"sft": ("pair", "demonstration"), "dpo": ("pair",), "kto": ("rating",)}


def signal_counts(rows: Sequence[dict], task: str) -> dict[str, int]:
    counts = {"pair": 0, "demonstration": 0, "rating": 0}
    for row in rows:
        signal = feedback_signal(row, task)
        if signal:
            counts[signal] += 1
    return counts


def choose_objective(counts: dict[str, int], setting: str, task: str) -> tuple[str | None, str]:
    """The objective `improve` trains and why, in one line (pure); None when the feedback holds nothing for it.

    auto: dpo when corrections of a known answer (pairs) are at least as many as corrections alone and as ratings
    without a correction; kto when such ratings outnumber all corrections; sft otherwise."""
    pairs, alone, ratings = counts["pair"], counts["demonstration"], counts["rating"]
    held = (f"{pairs} correction(s) of a known answer, {alone} without it, {ratings} rating(s) without a "
            "correction")
    if task != "chat":
        return ("sft", f"objective sft: {task} feedback is labels ({alone} new)") if alone else \
            (None, f"no {task} feedback carries a label")
    if setting != "auto":
        usable = sum(counts[s] for s in USES[setting])
        if not usable:
            need = {"sft": "correction", "dpo": "correction of a known answer (log requests, or send the answer "
                    "with the feedback)", "kto": "rating of a known answer without a correction"}[setting]
            return None, f"feedback.objective is {setting}, but the store holds no {need} ({held})"
        return setting, f"objective {setting} (feedback.objective): {held}"
    if pairs and pairs >= alone and pairs >= ratings:
        return "dpo", f"objective dpo (auto): most corrections replace a known answer, so each is a chosen/rejected " \
                      f"pair ({held})"
    if ratings > pairs + alone:
        return "kto", f"objective kto (auto): ratings without a correction outnumber corrections ({held})"
    if pairs + alone:
        return "sft", f"objective sft (auto): most corrections come without the answer they replace ({held})"
    return None, f"the store holds no correction or rated answer ({held})"


def feedback_records(rows: Sequence[dict], task: str, objective: str = "sft") -> list[dict]:
    """Rows for the data pipeline from feedback rows ({id, response_id, messages, correction, answer, score,
    label}) (pure): chat records (sft), OpenAI DPO rows (dpo) or rated rows (kto), as a user would write them."""
    records = []
    for row in rows:
        meta = {"source": "feedback", "feedback_id": row["id"], "response_id": row.get("response_id")}
        key = f"feedback-{row['id']}"
        if task == "classification":
            label = row.get("label") or row.get("correction")
            text = input_text({"messages": row.get("messages") or []})
            if label and text:
                records.append({"id": key, "text": text, "label": label, "meta": meta})
            continue
        signal = feedback_signal(row, task)
        if signal not in USES[objective]:
            continue
        prompt = _prompt(row)
        if objective == "sft":
            calls = {"tool_calls": row["correction_tool_calls"]} if row.get("correction_tool_calls") else {}
            tools = {"tools": row["tools"]} if row.get("tools") else {}
            fixed = {"role": "assistant", "content": row.get("correction") or "", **calls}
            records.append({"id": key, "messages": [*prompt, fixed], **tools, "meta": meta})
        elif objective == "dpo":
            records.append({"id": key, "input": {"messages": prompt},
                            "preferred_output": [{"role": "assistant", "content": row["correction"]}],
                            "non_preferred_output": [{"role": "assistant", "content": row["answer"]}], "meta": meta})
        else:
            answer = [{"role": "assistant", "content": row["answer"]}]
            records.append({"id": key, "prompt": prompt, "completion": answer, "label": row["score"] > 0.5,
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
    def whole(record: dict) -> bytes:  # a rated answer differs from the same answer rated the other way
        return fingerprint(f"{record_text(record)}\n{record.get('label', '')}\n{record.get('desirable', '')}")

    train_exact = {whole(r) for r in train}
    kept, dropped = [], {"held_out_overlap": 0, "already_in_train": 0}
    for record, text, is_near in zip(candidates, inputs, near, strict=True):
        if is_near or fingerprint(text) in held_exact:
            dropped["held_out_overlap"] += 1
        elif whole(record) in train_exact:
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


def build_feedback_version(project, parent, rows: Sequence[dict], objective: str = "sft") -> FeedbackDataset | None:
    """Write data/<version>/ = parent + cleaned corrections (sft), or the cleaned pairs (dpo) or rated answers
    (kto) alone; None when the rows hold nothing for the objective."""
    from tunesmith.data import load_prepared
    from tunesmith.data.dataset import write_split

    candidates = feedback_records(rows, parent.task, objective)
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
        written = write_split((train if objective == "sft" else []) + kept, staging / "train.parquet", parent.task)
        manifest = dict(parent.manifest)
        manifest.update(version=version, parent=parent.version, origin="feedback", tokens=None, objective=objective,
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
