"""The OpenAI-compatible HTTP server."""

from __future__ import annotations

from pydantic import Field

from tunesmith.config.base import Section


class ServeConfig(Section):
    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port.")
    api_keys: list[str] = Field(default_factory=list, description="Accepted API keys; empty means no auth.")
    max_batch_size: int = Field(8, ge=1, description="Requests decoded together.")
    batch_window_ms: int = Field(10, ge=0, description="How long to wait for more requests to batch.")
    max_queue: int = Field(64, ge=1, description="Pending requests beyond this get 429.")
