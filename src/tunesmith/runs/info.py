"""`RunInfo`: what a run's run.json says, typed, plus whether its artifact is on disk (pure; no file access).

run.json is written by tunesmith.train (status "running" when the run starts, then "completed",
"interrupted" or "failed" with a one-line "error"; `tunesmith tune` marks pruned trials "pruned"). Readers
never look into the JSON themselves: they ask a RunInfo. A key of the wrong type reads as missing, so a
damaged or hand-edited run.json never raises here.

The inference contract (how the run's model is prompted: system prompt, chat template, generation
defaults, labels) is `inference`, read from run.json's "inference" record (`tunesmith.runs.contract`); None
for runs trained before runs recorded it (`RunFolder.inference_contract()` derives one for those).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tunesmith.runs.contract import InferenceContract

STATUSES = ("running", "completed", "interrupted", "failed", "pruned")


def _typed(data: dict, key: str, kind: type | tuple[type, ...]):
    value = data.get(key)
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        return None  # JSON true is not a count
    return value if isinstance(value, kind) else None


def _text(data: dict, key: str) -> str | None:
    value = data.get(key)
    return str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != "" else None


def _strings(data: dict, key: str) -> list[str] | None:
    value = data.get(key)
    return [str(v) for v in value] if isinstance(value, list) else None


@dataclass(frozen=True)
class RunInfo:
    """A run's record. `finished` is the one definition of a run whose model can be used."""

    status: str | None = None
    error: str | None = None  # one line, when the run failed
    method: str | None = None
    objective: str | None = None
    task: str | None = None  # chat, text, classification, embedding
    base_model: str | None = None  # as configured (catalog name or folder)
    base_model_path: str | None = None  # the folder it resolved to when training ran
    dataset_version: str | None = None
    artifact: str | None = None  # the folder name of the result: "adapter" or "model"
    artifact_present: bool = False  # that folder exists and is not empty (read from the run folder)
    labels: list[str] | None = None
    project: str | None = None  # the project's name when it trained
    trainable_params: int | None = None
    total_params: int | None = None
    train_examples: int | None = None
    validation_examples: int | None = None
    planned_steps: int | None = None
    started: str | None = None
    world_size: int | None = None
    distributed: str | None = None
    steps: int | None = None
    tokens: int | None = None
    seconds: float | None = None
    padding_share: float | None = None
    peak_rss: int | None = None
    final_train_loss: float | None = None
    final_val_loss: float | None = None
    stopped_early: bool | None = None
    best_step: int | None = None
    restored_step: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    inference: InferenceContract | None = None  # the inference contract (see module docstring)
    raw: MappingProxyType = field(default_factory=lambda: MappingProxyType({}), repr=False, compare=False)

    @property
    def finished(self) -> bool:
        """Training completed and its result (adapter/ or model/) is in the folder."""
        return self.status == "completed" and self.artifact_present

    @classmethod
    def from_json(cls, data: Any, artifact: str | None = None, artifact_present: bool = False) -> RunInfo:
        """Read run.json's mapping; `artifact` fills in the artifact name older run.json files lack."""
        data = data if isinstance(data, dict) else {}
        number = (int, float)
        return cls(
            status=_text(data, "status"), error=_text(data, "error"), method=_text(data, "method"),
            objective=_text(data, "objective"), task=_text(data, "task"), base_model=_text(data, "base_model"),
            base_model_path=_text(data, "base_model_path"), dataset_version=_text(data, "dataset_version"),
            artifact=_text(data, "artifact") or artifact, artifact_present=artifact_present,
            labels=_strings(data, "labels"), project=_text(data, "project"),
            trainable_params=_typed(data, "trainable_params", int), total_params=_typed(data, "total_params", int),
            train_examples=_typed(data, "train_examples", int),
            validation_examples=_typed(data, "validation_examples", int),
            planned_steps=_typed(data, "planned_steps", int), started=_text(data, "started"),
            world_size=_typed(data, "world_size", int), distributed=_text(data, "distributed"),
            steps=_typed(data, "steps", int), tokens=_typed(data, "tokens", int),
            seconds=_typed(data, "seconds", number), padding_share=_typed(data, "padding_share", number),
            peak_rss=_typed(data, "peak_rss", int), final_train_loss=_typed(data, "final_train_loss", number),
            final_val_loss=_typed(data, "final_val_loss", number), stopped_early=_typed(data, "stopped_early", bool),
            best_step=_typed(data, "best_step", int), restored_step=_typed(data, "restored_step", int),
            metrics=dict(_typed(data, "metrics", dict) or {}), warnings=_strings(data, "warnings") or [],
            inference=InferenceContract.from_json(data["inference"]) if isinstance(data.get("inference"), dict)
            else None, raw=MappingProxyType(dict(data)))

    def to_json(self) -> dict[str, Any]:
        """run.json's mapping as read (keys this version does not know included)."""
        return dict(self.raw)


