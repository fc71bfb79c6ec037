"""Put the fine-tuning API on the server `tunesmith.serve.create_app` builds.

Same API keys as the rest of the server; every fine-tuned model (finished earlier or just now) is added to
the server's model registry, so `/v1/chat/completions` and `/v1/models` know it the moment its job succeeds.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request

from tunesmith.finetune_api.errors import OpenAIError
from tunesmith.finetune_api.service import FinetuneAPI
from tunesmith.project import Project


def _key_guard(serve_config):
    from tunesmith.serve.auth import KeyRing

    keys = KeyRing(serve_config.api_keys, serve_config.api_key_hashes)

    def require_api_key(request: Request) -> None:
        if not keys.enabled:
            return
        header = request.headers.get("authorization", "")
        presented = header[7:].strip() if header.lower().startswith("bearer ") else None
        if keys.check(presented) is None:
            raise OpenAIError(401, "Incorrect or missing API key. Send it as 'Authorization: Bearer KEY'.",
                              code="invalid_api_key")

    return require_api_key


def register_model(registry, model_id: str, run_dir: Path) -> None:
    from tunesmith.serve.registry import describe

    source = describe(run_dir, model_id)
    if source.base and source.tokenizer_path and not (source.tokenizer_path / "config.json").exists():
        # serve's registry loads tokenizers through the model catalog, which needs a config.json that a run's
        # tokenizer/ lacks; an adapter run's tokenizer is its base model's, so take that one.
        source = dataclasses.replace(source, tokenizer_path=None)
    add = getattr(registry, "add", None)
    if add is not None:
        add(source)
    else:
        registry.sources[model_id] = source


def mount_finetune_api(app: FastAPI, project: Project, **kwargs: Any) -> FinetuneAPI:
    """Add `/v1/files` and `/v1/fine_tuning/*` to `app` (call before the server starts)."""
    registry = app.state.registry
    api = FinetuneAPI(project, dependencies=[Depends(_key_guard(app.state.config))], **kwargs)
    api.jobs.on_model_ready = lambda model_id, run_dir: register_model(registry, model_id, run_dir)
    app.include_router(api.router)
    app.state.finetune_api = api
    return api
