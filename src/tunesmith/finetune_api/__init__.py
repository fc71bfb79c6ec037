"""A drop-in for OpenAI's fine-tuning API (files + fine_tuning jobs), served by `tunesmith serve`."""

from tunesmith.finetune_api.service import FinetuneAPI, create_finetune_router

__all__ = ["FinetuneAPI", "create_finetune_router"]
