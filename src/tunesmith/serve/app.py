"""The FastAPI app: OpenAI-compatible routes over the engine, behind keys, limits and metrics."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tunesmith.config.serve import ServeConfig
from tunesmith.serve.auth import KeyRing, RateLimiter, retry_after_header
from tunesmith.serve.batch import Delta, Finished
from tunesmith.serve.engine import Engine, QueueFullError
from tunesmith.serve.errors import APIError, install_error_handlers
from tunesmith.serve.limits import BodySizeLimit
from tunesmith.serve.metrics import Metrics
from tunesmith.serve.registry import ModelRegistry, UnknownModelError
from tunesmith.serve.sampling import SamplingParams
from tunesmith.serve.schemas import ChatRequest, ClassificationRequest, CompletionRequest


def create_app(models: list[str | Path] | ModelRegistry, config: ServeConfig | None = None,
               engine: Engine | None = None) -> FastAPI:
    """Build the server for run folders, model folders or catalog names (or a ready registry)."""
    config = config or ServeConfig()
    registry = models if hasattr(models, "acquire") else ModelRegistry.from_paths(
        list(models), max_loaded=config.max_loaded_models, dtype=config.dtype, linear_kernel=config.linear_kernel)
    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    engine = engine or Engine(registry, config.max_batch_size, config.batch_window_ms, config.max_queue)
    keys = KeyRing(config.api_keys, config.api_key_hashes)
    limiter = RateLimiter(config.rate_limit_per_minute, config.rate_limit_burst)
    metrics = Metrics(engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        engine.start()
        try:
            yield
        finally:
            await asyncio.to_thread(engine.stop)

    app = FastAPI(title="tunesmith", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.engine, app.state.registry, app.state.config = engine, registry, config
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=config.max_body_bytes)

    @app.middleware("http")
    async def _measure(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        label = getattr(route, "path", "unmatched")
        metrics.requests.labels(label, str(response.status_code)).inc()
        metrics.latency.labels(label).observe(time.perf_counter() - started)
        return response

    async def guard(request: Request) -> None:
        identity = request.client.host if request.client else "anonymous"
        if keys.enabled:
            header = request.headers.get("authorization", "")
            presented = header[7:].strip() if header.lower().startswith("bearer ") else None
            identity = keys.check(presented)
            if identity is None:
                raise APIError(401, "Incorrect or missing API key. Send it as 'Authorization: Bearer KEY'.",
                               code="invalid_api_key")
        wait = limiter.acquire(identity)
        if wait > 0:
            raise APIError(429, "Rate limit reached for this API key.", "requests", "rate_limit_exceeded",
                           headers={"Retry-After": retry_after_header(wait)})

    app.state.auth = guard  # for routers mounted later: APIRouter(dependencies=[Depends(app.state.auth)])

    @app.get("/health")
    async def health():
        return {"status": "ok", "models": list(registry.sources), "queued": engine.queued}

    @app.get("/metrics", dependencies=[Depends(guard)])
    async def prometheus():
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models", dependencies=[Depends(guard)])
    async def list_models():
        created = int(time.time())
        return {"object": "list", "data": [
            {"id": s.model_id, "object": "model", "created": created, "owned_by": "tunesmith", "kind": s.kind}
            for s in registry.sources.values()]}

    def lookup(model: str):
        try:
            return registry.source(model)
        except UnknownModelError as err:
            raise APIError(404, str(err), code="model_not_found", param="model") from None

    def prepare(model: str, text: str, body) -> tuple[list[int], SamplingParams]:
        source = lookup(model)
        if source.kind == "classifier":
            raise APIError(400, f"'{model}' is a classifier; use /v1/classifications.", param="model")
        ids = registry.tokenizer(model)(text, add_special_tokens=False)["input_ids"]
        asked = body.max_tokens or getattr(body, "max_completion_tokens", None)
        if asked is not None and asked > config.max_tokens_limit:
            raise APIError(400, f"max_tokens is {asked}; this server allows at most {config.max_tokens_limit}.",
                           param="max_tokens", code="invalid_value")
        room = registry.context_length(model) - len(ids)
        if room < 1 or (asked is not None and asked > room):
            raise APIError(400, f"This model's maximum context length is {registry.context_length(model)} tokens; "
                           f"the prompt has {len(ids)} and {asked or 1} more were requested.",
                           param="messages", code="context_length_exceeded")
        max_tokens = asked or min(config.default_max_tokens, room)
        return ids, SamplingParams(max_tokens, body.temperature, body.top_p, body.stops, body.seed)

    async def respond(body, text: str, chat: bool):
        ids, params = prepare(body.model, text, body)
        rid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        created = int(time.time())
        try:
            if not body.stream:
                answer, done = await engine.complete(body.model, ids, params)
                return _final(rid, created, body.model, answer, done, chat)
            events = engine.stream(body.model, ids, params)
            first = await anext(events)
        except QueueFullError as err:
            raise APIError(429, str(err), "server_overloaded", "queue_full", headers={"Retry-After": "1"}) from None
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(_sse(rid, created, body.model, first, events, chat, include_usage),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.post("/v1/chat/completions", dependencies=[Depends(guard)])
    async def chat_completions(body: ChatRequest):
        from jinja2 import TemplateError

        from tunesmith.inference import render_prompt

        lookup(body.model)
        try:
            text = render_prompt(registry.tokenizer(body.model), [m.plain() for m in body.messages])
        except (TemplateError, ValueError) as err:
            raise APIError(400, f"messages cannot be rendered with the model's chat template: {err}",
                           param="messages") from None
        return await respond(body, text, chat=True)

    @app.post("/v1/completions", dependencies=[Depends(guard)])
    async def completions(body: CompletionRequest):
        return await respond(body, body.prompt, chat=False)

    @app.post("/v1/classifications", dependencies=[Depends(guard)])
    async def classifications(body: ClassificationRequest):
        from tunesmith.serve.classify import classify

        if lookup(body.model).kind != "classifier":
            raise APIError(400, f"'{body.model}' is not a classifier.", param="model")
        try:
            future = engine.call(lambda: classify(registry.acquire(body.model), body.input))
        except QueueFullError as err:
            raise APIError(429, str(err), "server_overloaded", "queue_full", headers={"Retry-After": "1"}) from None
        results = await asyncio.wrap_future(future)
        return {"object": "list", "model": body.model, "data": results}

    return app


def _usage(done: Finished) -> dict:
    return {"prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens,
            "total_tokens": done.prompt_tokens + done.completion_tokens}


def _final(rid: str, created: int, model: str, text: str, done: Finished, chat: bool) -> JSONResponse:
    if chat:
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": done.reason,
                  "logprobs": None}
    else:
        choice = {"index": 0, "text": text, "finish_reason": done.reason, "logprobs": None}
    return JSONResponse({"id": rid, "object": "chat.completion" if chat else "text_completion", "created": created,
                         "model": model, "choices": [choice], "usage": _usage(done)})


async def _sse(rid, created, model, first, events, chat: bool, include_usage: bool):
    kind = "chat.completion.chunk" if chat else "text_completion"

    def chunk(text: str | None, reason: str | None, role: bool = False) -> str:
        if chat:
            delta = {"role": "assistant", "content": text or ""} if role else ({"content": text} if text else {})
            choice = {"index": 0, "delta": delta, "finish_reason": reason, "logprobs": None}
        else:
            choice = {"index": 0, "text": text or "", "finish_reason": reason, "logprobs": None}
        payload = {"id": rid, "object": kind, "created": created, "model": model, "choices": [choice]}
        return f"data: {json.dumps(payload)}\n\n"

    if chat:
        yield chunk("", None, role=True)
    event = first
    try:
        while True:
            if isinstance(event, Delta):
                yield chunk(event.text, None)
            elif isinstance(event, Finished):
                yield chunk(None, event.reason)
                if include_usage:
                    payload = {"id": rid, "object": kind, "created": created, "model": model, "choices": [],
                               "usage": _usage(event)}
                    yield f"data: {json.dumps(payload)}\n\n"
                break
            event = await anext(events)
    except Exception as err:  # the status line is sent already: report the failure in-band
        yield f"data: {json.dumps({'error': {'message': str(err), 'type': 'server_error', 'code': None}})}\n\n"
    finally:
        await events.aclose()
    yield "data: [DONE]\n\n"
