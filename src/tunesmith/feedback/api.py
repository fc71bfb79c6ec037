"""HTTP side of capture: `POST /v1/feedback` and a middleware that logs completions.

The server includes both with one line: `attach_feedback(app, store)` (or `app.include_router(
feedback_router(store))` plus `app.add_middleware(ExchangeLogger, store=store)` to pick separately).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import anyio
from fastapi import APIRouter, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from tunesmith.errors import TunesmithError
from tunesmith.feedback.capture import log_exchange, record_feedback
from tunesmith.feedback.registry import cached_production
from tunesmith.feedback.store import Store
from tunesmith.serve.schemas import RequestBody

logger = logging.getLogger(__name__)
LOGGED_PATHS = ("/v1/chat/completions", "/v1/completions")
VERSION_HEADER = b"x-tunesmith-model-version"


class FeedbackIn(RequestBody):  # text that is not valid Unicode is refused, as in every request body
    model_config = ConfigDict(extra="forbid")
    response_id: str | None = Field(None, description="The `id` of the completion being rated.")
    rating: Literal["up", "down"] | int | None = Field(None, description="'up'/'down' or 1–5 stars.")
    correction: str | None = Field(None, description="The answer the model should have given.")
    answer: str | None = Field(None, description="The answer being rated, when requests are not logged (else the "
                               "logged response of response_id is used).")
    label: str | None = Field(None, description="The right label, for classification models.")
    comment: str = Field("", description="Free text.")
    messages: list[dict[str, Any]] | None = Field(None, description="The prompt, when requests are not logged.")
    correction_tool_calls: list[dict[str, Any]] | None = Field(
        None, description="The tool calls the model should have made, as OpenAI writes `tool_calls` (`correction`, "
                          "if given, is what it says alongside).")
    tools: list[dict[str, Any]] | None = Field(None, description="The tools the prompt offered, when requests are "
                                               "not logged.")


class FeedbackOut(BaseModel):
    id: str
    object: Literal["feedback"] = "feedback"
    response_id: str | None
    score: float | None
    usable_for_training: bool


def feedback_router(store: Store | Callable[[], Store], dependencies: Sequence[Any] = ()) -> APIRouter:
    """`POST /v1/feedback`; pass the server's auth dependencies so feedback needs the same API key."""
    router = APIRouter(dependencies=list(dependencies))
    get_store = store if callable(store) and not isinstance(store, Store) else (lambda: store)

    @router.post("/v1/feedback", response_model=FeedbackOut, status_code=201, tags=["feedback"])
    def post_feedback(body: FeedbackIn) -> FeedbackOut:
        try:
            row = record_feedback(get_store(), **body.model_dump())
        except TunesmithError as err:
            raise HTTPException(422, detail={"message": str(err), "type": "invalid_request_error"}) from None
        usable = bool(row.messages) and (row.correction is not None or row.correction_tool_calls is not None or
                                         row.label is not None)
        return FeedbackOut(id=f"fb-{row.id}", response_id=row.response_id, score=row.score,
                           usable_for_training=usable)

    return router


def _add_call_delta(calls: dict[int, dict[str, Any]], delta: dict[str, Any]) -> None:
    """Fold one streamed `tool_calls` delta into the calls so far (the id and name come first, arguments in
    pieces)."""
    call = calls.setdefault(int(delta.get("index") or 0), {"id": None, "type": "function",
                                                            "function": {"name": "", "arguments": ""}})
    call["id"] = delta.get("id") or call["id"]
    function = delta.get("function") or {}
    call["function"]["name"] += function.get("name") or ""
    call["function"]["arguments"] += function.get("arguments") or ""


def _body_from_sse(raw: bytes) -> dict[str, Any]:
    """Reassemble a streamed chat completion (its text and tool calls) into one response dict."""
    text, calls, response = [], {}, {}
    for line in raw.decode("utf-8", "replace").splitlines():
        if not line.startswith("data:") or line.strip() == "data: [DONE]":
            continue
        try:
            chunk = json.loads(line[5:])
        except json.JSONDecodeError:
            continue
        response = {k: v for k, v in chunk.items() if k != "choices"} | {"usage": chunk.get("usage") or
                                                                          response.get("usage")}
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or choice.get("text") or "")
            for call in delta.get("tool_calls") or []:
                _add_call_delta(calls, call)
    message = {"role": "assistant", "content": "".join(text)}
    if calls:
        message["tool_calls"] = [calls[index] for index in sorted(calls)]
    response["choices"] = [{"message": message}]
    return response


class ExchangeLogger:
    """ASGI middleware: tees completion requests and responses (streamed or not) into `log_exchange`.

    The response is passed through untouched and logging happens after the last byte is sent, in a
    worker thread, so a slow database never delays an answer.
    """

    def __init__(self, app, store: Store):
        self.app = app
        self.store = store

    async def __call__(self, scope, receive, send):
        if (scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") not in LOGGED_PATHS
                or not self.store.settings.log_requests):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_body, response_body, meta = bytearray(), bytearray(), {"status": 500, "version": None}

        async def tee_receive():
            message = await receive()
            if message["type"] == "http.request":
                request_body.extend(message.get("body", b""))
            return message

        async def tee_send(message):
            if message["type"] == "http.response.start":
                meta["status"] = message["status"]
                headers = dict(message.get("headers") or [])
                meta["version"] = headers.get(VERSION_HEADER)
            elif message["type"] == "http.response.body":
                response_body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, tee_receive, tee_send)
        finally:
            latency = time.perf_counter() - started
            try:
                await anyio.to_thread.run_sync(self._log, scope["path"], bytes(request_body),
                                               bytes(response_body), meta, latency)
            except Exception:
                # Serving must go on when the store is unreachable; the operator sees it in the log.
                logger.exception("could not log a request to the feedback store")

    def _log(self, path: str, request_raw: bytes, response_raw: bytes, meta: dict, latency: float) -> None:
        try:
            request = json.loads(request_raw or b"{}")
        except json.JSONDecodeError:
            request = {}
        try:
            response = json.loads(response_raw) if response_raw.lstrip()[:1] == b"{" else _body_from_sse(response_raw)
        except json.JSONDecodeError:
            response = {}
        version = meta["version"]
        if version is None:
            production = cached_production(self.store)
            version_id = production.id if production else None
        else:
            version_id = int(version.decode().lstrip("vV")) if version.decode().lstrip("vV").isdigit() else None
        log_exchange(self.store, request if isinstance(request, dict) else {}, response, latency, meta["status"],
                     endpoint=path, model_version_id=version_id)


def attach_feedback(app: FastAPI, store: Store, dependencies: Sequence[Any] = ()) -> FastAPI:
    """Add `POST /v1/feedback` and request logging (when `feedback.log_requests` is on) to a server app."""
    app.include_router(feedback_router(store, dependencies))
    app.add_middleware(ExchangeLogger, store=store)
    return app
