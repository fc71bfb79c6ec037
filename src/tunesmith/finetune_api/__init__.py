"""A drop-in for OpenAI's fine-tuning API (files + fine_tuning jobs), served by `tunesmith serve`.

Names load lazily, so a job's child process (`python -m tunesmith.finetune_api.job_process`) does not pull
in the server side (FastAPI, the store) before it starts training.
"""

from __future__ import annotations

import importlib

_EXPORTS = {"FinetuneAPI": "tunesmith.finetune_api.service",
            "create_finetune_router": "tunesmith.finetune_api.service",
            "mount_finetune_api": "tunesmith.finetune_api.mount"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tunesmith.finetune_api' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)
