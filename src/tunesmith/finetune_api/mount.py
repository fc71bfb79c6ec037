"""Put the fine-tuning API on the server `tunesmith.serve.create_app` builds, behind the server's own keys.

Fine-tuned models reach the server's model registry through the router's lifespan (see `FinetuneAPI`), so
including the router is all a server has to do; this helper also supplies the key check when the server
does not expose one as `app.state.auth`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request

from tunesmith.finetune_api.errors import OpenAIError
from tunesmith.finetune_api.service import FinetuneAPI
from tunesmith.project import Project


def _key_guard(serve_config):
    from tunesmith.serve.auth import KeyRing

    keys = KeyRing(serve_config.api_keys, serve_config.api_key_hashes)

    def require_api_key(request: Request) -> None:
        header = request.headers.get("authorization", "")
        presented = header[7:].strip() if header.lower().startswith("bearer ") else None
        if keys.enabled and keys.check(presented) is None:
            raise OpenAIError(401, "Incorrect or missing API key. Send it as 'Authorization: Bearer KEY'.",
                              code="invalid_api_key")

    return require_api_key


def mount_finetune_api(app: FastAPI, project: Project, **kwargs: Any) -> FinetuneAPI:
    """Add `/v1/files` and `/v1/fine_tuning/*` to `app` (call before the server starts)."""
    guard = getattr(app.state, "auth", None) or _key_guard(app.state.config)
    api = FinetuneAPI(project, dependencies=[Depends(guard)], **kwargs)
    app.include_router(api.router)
    app.state.finetune_api = api
    return api
