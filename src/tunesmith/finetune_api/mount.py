"""Put the fine-tuning API on a tunesmith server (`tunesmith.serve.build_server` does it for a project).

The server's guard (`tunesmith.serve.auth.Guard`, in front of routing) asks every route for the server's
keys, so the router needs no key check of its own. Fine-tuned models reach the server's model registry
through the router's lifespan (see `FinetuneAPI`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from tunesmith.errors import TunesmithError
from tunesmith.finetune_api.service import FinetuneAPI
from tunesmith.project import Project

MULTIPART_SLACK = 64 * 1024


def mount_finetune_api(app: FastAPI, project: Project, **kwargs: Any) -> FinetuneAPI:
    """Add `/v1/files` and `/v1/fine_tuning/*` to an app from `tunesmith.serve` (call before it starts)."""
    if getattr(app.state, "keys", None) is None:
        raise TunesmithError("mount_finetune_api needs an app from tunesmith.serve (its guard checks the keys).",
                             "Build the server with tunesmith.serve.build_server, or include "
                             "create_finetune_router(project, dependencies=[...your key check...]) yourself.")
    api = FinetuneAPI(project, **kwargs)
    # uploads may be as large as finetune_api.max_file_mb (plus the multipart framing), not serve.max_body_bytes
    app.state.body_limits["/v1/files"] = api.files.max_bytes + MULTIPART_SLACK
    app.include_router(api.router)
    app.state.finetune_api = api
    return api
