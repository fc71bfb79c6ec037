"""Fine-tuned models into the host server's model registry, so `/v1/chat/completions` serves them at once."""

from __future__ import annotations

from pathlib import Path


def register_model(registry, model_id: str, run_dir: Path) -> None:
    """Offer a finished job's run folder under its OpenAI-style id (`ft:<base>:<org>:<suffix>:<id>`)."""
    from tunesmith.serve.registry import describe

    source = describe(run_dir, model_id)
    add = getattr(registry, "add", None)
    if add is not None:
        add(source)
    else:
        registry.sources[model_id] = source  # ModelRegistry looks models up in this dict on every request
