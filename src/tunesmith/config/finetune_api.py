"""The OpenAI-compatible fine-tuning API (`/v1/files`, `/v1/fine_tuning/jobs`) served by `tunesmith serve`.

"auto" hyperparameters mean "use the project's `training` section", so their defaults live there only.
"""

from __future__ import annotations

from pydantic import Field

from tunesmith.config.base import Section

_SMOLLM = "smollm2-135m-instruct"


class FinetuneApiConfig(Section):
    enabled: bool = Field(True, description="Serve the fine-tuning API beside chat completions.")
    model_map: dict[str, str] = Field(
        default_factory=lambda: {name: _SMOLLM for name in (
            "gpt-4o-mini", "gpt-4o-mini-2024-07-18", "gpt-4.1-mini", "gpt-4.1-mini-2025-04-14",
            "gpt-4.1-nano", "gpt-4.1-nano-2025-04-14", "gpt-3.5-turbo", "gpt-3.5-turbo-0125",
            "babbage-002", "davinci-002")},
        description="OpenAI model names a client may pass to fine_tuning.jobs.create, mapped to catalog models "
        "(or local Hugging Face folders). Catalog names are accepted as they are.")
    store_dir: str = Field("finetune", description="Folder (relative to the project) for uploaded files and the "
                           "job store (SQLite).")
    max_file_mb: float = Field(100.0, gt=0, description="Largest accepted upload, in megabytes.")
    max_queued_jobs: int = Field(20, ge=1, description="Jobs waiting beyond this are refused with 429.")
    parallel_jobs: int = Field(1, ge=1, le=4, description="Jobs trained at the same time (CPU cores are shared).")
    max_restarts: int = Field(2, ge=0, description="Times a job interrupted by a server restart is resumed from "
                              "its last checkpoint before it is failed.")
    evaluate: bool = Field(True, description="After training, compare base and fine-tuned model on the job's "
                           "validation file (jobs without one get no report) and attach the report to the job.")
    evaluation_examples: int = Field(32, ge=1, description="Examples the post-training comparison uses at most.")
