"""The feedback store, request logging, monitoring thresholds and the improve rule."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunesmith.config.base import Section


class FeedbackConfig(Section):
    database_url: str = Field("sqlite:///{project}/tunesmith.db",
                              description="SQLAlchemy URL of the store; {project} is the project folder. "
                              "PostgreSQL: postgresql+psycopg://user:pass@host/db.")
    log_requests: bool = Field(False, description="Log every request and response the server answers "
                               "(opt-in; needed to turn feedback on a response id into training data).")
    mask_pii: bool = Field(True, description="Mask e-mails, phone numbers, card and account numbers, IP "
                           "addresses and URLs with credentials before anything is stored.")
    retention_days: int | None = Field(30, ge=1, description="Delete logged requests older than this; "
                                       "feedback keeps its own masked copy of the prompt. Empty keeps all.")
    production_ttl_seconds: float = Field(2.0, ge=0, description="How long the server caches which model "
                                          "version is in production before re-reading the registry.")
    objective: Literal["auto", "sft", "dpo", "kto"] = Field(
        "auto", description="What `improve` trains on feedback: sft learns the corrections; dpo learns from pairs "
        "(a correction is chosen over the answer it corrects) on top of the production model; kto from answers rated "
        "good or bad without a correction; auto picks from what the store holds and says why.")
    preference_learning_rate_multiplier: float = Field(
        0.1, gt=0, le=10, description="dpo and kto candidates train at the production run's learning rate times "
        "this: they continue from a trained model, and preference losses overshoot at rates that suit SFT.")
    promotion_margin: float = Field(0.02, ge=0, description="A candidate must beat production on the "
                                    "primary metric by at least this much (absolute) to be promoted.")
    significance: float = Field(0.05, gt=0, lt=1, description="Largest p-value of the paired test that "
                                "counts as a significant win.")
    length_drift_threshold: float = Field(0.25, gt=0, le=1, description="Warn when the Kolmogorov-Smirnov "
                                          "distance between input lengths in use and in training exceeds this.")
    vocabulary_drift_threshold: float = Field(0.5, gt=0, le=1, description="Warn when the Jensen-Shannon "
                                              "distance between word distributions in use and in training "
                                              "exceeds this.")
    score_drop_threshold: float = Field(0.15, gt=0, le=1, description="Warn when the mean feedback score "
                                        "(0 = bad, 1 = good) of the latest period falls this far below "
                                        "the earlier periods.")
    monitor_bucket: Literal["minute", "hour", "day"] = Field(
        "hour", description="Time bucket of the monitor's charts: minute, hour or day.")
