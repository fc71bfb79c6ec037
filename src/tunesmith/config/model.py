"""Which pretrained model to start from and how to load it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunesmith.config.base import Section


class ModelConfig(Section):
    name: str = Field("smollm2-135m-instruct",
                      description="A catalog name (see `tunesmith models`) or a local Hugging Face folder.")
    max_length: int = Field(512, ge=16, le=131072, description="Longest training sequence in tokens.")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="Weights dtype; float32 is fastest on CPUs without AMX.")
    trust_remote_code: bool = Field(False, description="Run model code shipped with a local folder. "
                                    "Only enable for folders you trust.")
