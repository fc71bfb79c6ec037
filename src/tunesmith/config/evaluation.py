"""How a model is evaluated on held-out data."""

from __future__ import annotations

from pydantic import Field

from tunesmith.config.base import Section


class EvaluationConfig(Section):
    split: str = Field("test", description="Held-out split to evaluate on (falls back to validation).")
    max_examples: int | None = Field(None, ge=1, description="Evaluate on at most this many examples.")
    max_new_tokens: int = Field(96, ge=1, le=4096, description="Longest generated answer.")
    batch_size: int = Field(8, ge=1, description="Prompts generated together.")
    few_shot_k: int = Field(3, ge=0, le=16, description="Examples from train in the prompt-engineering baseline.")
    baselines: bool = Field(True, description="Also evaluate the base model zero-shot and few-shot.")
    bootstrap_samples: int = Field(1000, ge=100, description="Resamples for 95% confidence intervals.")
