"""The fine-tuning method. Each method registers its own options in tunesmith.methods."""

from __future__ import annotations

from pydantic import Field

from tunesmith.config.base import Section


class MethodConfig(Section):
    name: str = Field("lora", description="full, lora, dora, ia3, prefix, prompt or adapter.")
    r: int = Field(16, ge=1, description="LoRA/DoRA rank.")
    alpha: int = Field(32, ge=1, description="LoRA/DoRA scaling numerator (scale = alpha / r).")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the adapter input.")
    target_modules: str | list[str] = Field("all-linear", description="Modules to adapt.")
