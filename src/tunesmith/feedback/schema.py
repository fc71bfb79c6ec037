"""Tables of the feedback store. Changing them means adding an Alembic migration in migrations/versions/."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

STAGES = ("candidate", "production", "archived")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar = {dict[str, Any]: JSON, list[Any]: JSON}


class Run(Base):
    """A training run folder, as the registry knows it."""

    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    method: Mapped[str | None] = mapped_column(String(50))
    base_model: Mapped[str | None] = mapped_column(Text)
    dataset_version_id: Mapped[str | None] = mapped_column(String(200))
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class DatasetVersion(Base):
    __tablename__ = "dataset_versions"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("dataset_versions.id"))
    origin: Mapped[str] = mapped_column(String(20), default="prepare")
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    feedback_items: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ModelVersion(Base):
    """One registered model: a run plus its lineage and its stage."""

    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    base_model: Mapped[str | None] = mapped_column(Text)
    dataset_version_id: Mapped[str | None] = mapped_column(ForeignKey("dataset_versions.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    stage: Mapped[str] = mapped_column(String(20), default="candidate", index=True)
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class StageEvent(Base):
    """Every stage change, so `models history` can show who was in production when and why."""

    __tablename__ = "stage_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class RequestLog(Base):
    """One request the server answered (stored only when logging is enabled, PII-masked by default)."""

    __tablename__ = "requests"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    endpoint: Mapped[str] = mapped_column(String(100), default="")
    model: Mapped[str] = mapped_column(Text, default="")
    model_version_id: Mapped[int | None] = mapped_column(Integer)
    messages: Mapped[list[Any]] = mapped_column(default=list)
    response_text: Mapped[str] = mapped_column(Text, default="")
    tools: Mapped[list[Any] | None] = mapped_column(JSON)  # the request's OpenAI `tools`, when it offered any
    response_tool_calls: Mapped[list[Any] | None] = mapped_column(JSON)  # the answer's OpenAI `tool_calls`
    status: Mapped[int] = mapped_column(Integer, default=200)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)


class Feedback(Base):
    """A rating and optional correction on one response; carries its own (masked) copy of the prompt and of the
    answer it rates, so it outlives the logged request (retention)."""

    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    response_id: Mapped[str | None] = mapped_column(String(200), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    score: Mapped[float | None] = mapped_column(Float)
    rating: Mapped[str | None] = mapped_column(String(20))
    correction: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)  # the answer that was rated (served, or sent with the prompt)
    label: Mapped[str | None] = mapped_column(Text)
    tools: Mapped[list[Any] | None] = mapped_column(JSON)  # the tools the prompt offered (OpenAI `tools`)
    answer_tool_calls: Mapped[list[Any] | None] = mapped_column(JSON)  # the calls the rated answer made
    correction_tool_calls: Mapped[list[Any] | None] = mapped_column(JSON)  # the calls it should have made
    comment: Mapped[str] = mapped_column(Text, default="")
    messages: Mapped[list[Any]] = mapped_column(default=list)
    model_version_id: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20), default="api")
    used_in: Mapped[str | None] = mapped_column(String(200))

