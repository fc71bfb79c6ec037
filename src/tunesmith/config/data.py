"""Where the data comes from and how it is prepared."""

from __future__ import annotations

from pydantic import Field

from tunesmith.config.base import Section


class SourceConfig(Section):
    path: str = Field(..., description="File or folder, relative to the project folder.")
    format: str = Field("auto", description="auto, alpaca, openai, sharegpt, prompt_completion, "
                        "input_output, question_answer, text_label or text.")
    weight: float = Field(1.0, gt=0, description="Mixing ratio relative to other sources.")
    columns: dict[str, str] = Field(default_factory=dict, description="Rename source columns: {theirs: ours}.")


class DataConfig(Section):
    sources: list[SourceConfig] = Field(default_factory=list, description="Input files to combine.")
    validation_share: float = Field(0.2, ge=0, lt=1, description="Share of train held out for validation.")
    test_share: float = Field(0.0, ge=0, lt=1, description="Share held out for the final test.")
    seed: int = Field(42, description="Seed for shuffling and splitting.")
    strict: bool = Field(False, description="Stop at the first invalid record instead of skipping it.")
