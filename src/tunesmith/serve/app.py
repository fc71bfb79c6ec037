"""The FastAPI app: OpenAI-compatible routes over the engine, behind keys, limits and metrics.

`create_app` builds the app over a model registry; `tunesmith.serve.server.build_server` is what assembles a
whole server (keys, backend, project mounts) and what the CLI, the studio and the tests call.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import PlainTextResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tunesmith.config.serve import ServeConfig
from tunesmith.serve.auth import Guard, KeyRing, RateLimiter
from tunesmith.serve.engine import Engine, QueueFullError
from tunesmith.serve.errors import APIError, install_error_handlers
from tunesmith.serve.limits import BodySizeLimit
from tunesmith.serve.logprobs import TokenText
from tunesmith.serve.metrics import Measured, Metrics
from tunesmith.serve.registry import ModelRegistry, UnknownModelError
from tunesmith.serve.responses import final, sse
from tunesmith.serve.sampling import SamplingParams
from tunesmith.serve.schemas import ChatRequest, ClassificationRequest, CompletionRequest


class ServerApp(FastAPI):
    """A FastAPI app whose outermost layers are always metrics, then the key and rate-limit guard, whatever
    middleware or routers are added later (`add_middleware` would otherwise put them outside)."""

    def build_middleware_stack(self):
        inner = super().build_middleware_stack()
        return Measured(Guard(inner, self.state.keys, self.state.limiter), self.state.metrics, self)


def create_app(models: list[str | Path] | ModelRegistry, config: ServeConfig | None = None,
               engine: Engine | None = None) -> ServerApp:
    """The server app for run folders, model folders or catalog names (or a ready registry).

    Every route but `GET /health` needs one of the keys `serve.auth.configured_keys` finds (config and
    `TUNESMITH_API_KEYS`) when any is set; routers included later are covered too.
    """
    config = config or ServeConfig()
    registry = models if hasattr(models, "acquire") else ModelRegistry.from_paths(
        list(models), max_loaded=config.max_loaded_models, dtype=config.dtype, linear_kernel=config.linear_kernel)
    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    engine = engine or Engine(registry, config.max_batch_size, config.batch_window_ms, config.max_queue)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        engine.start()
        try:
            yield
        finally:
            await asyncio.to_thread(engine.stop)

    app = ServerApp(title="tunesmith", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.engine, app.state.registry, app.state.config = engine, registry, config
    app.state.keys = KeyRing.from_settings(config)
    app.state.limiter = RateLimiter(config.rate_limit_per_minute, config.rate_limit_burst)
    app.state.metrics = metrics = Metrics(engine)
    install_error_handlers(app)
    app.state.body_limits = {}  # path → bytes, for routes mounted later that take larger bodies (uploads)
    app.add_middleware(BodySizeLimit, max_bytes=config.max_body_bytes, per_path=app.state.body_limits)

    @app.get("/docs", include_in_schema=False)
    async def docs():
        # The schema is inlined: the page's own fetch of /openapi.json would carry no key.
        return get_swagger_ui_html(openapi_url="/openapi.json", title="tunesmith API",
                                   swagger_ui_parameters={"spec": app.openapi()})

    @app.get("/health")
    async def health():
        return {"status": "ok", "models": list(registry.sources), "queued": engine.queued}

    @app.get("/metrics")
    async def prometheus():
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
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

    def token_text(model: str) -> TokenText:
        return TokenText(registry.tokenizer(model))

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
        logprobs = body.logprob_count
        if logprobs is not None and not engine.supports_logprobs:
            raise APIError(400, f"logprobs are not available from the {config.backend} backend; leave logprobs "
                           "out, or serve with serve.backend: torch.", param="logprobs", code="unsupported_parameter")
        return ids, SamplingParams(max_tokens, body.temperature, body.top_p, body.stops, body.seed, logprobs)

    async def respond(body, text: str, chat: bool):
        ids, params = prepare(body.model, text, body)
        rid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        created = int(time.time())
        try:
            if not body.stream:
                answer, done = await engine.complete(body.model, ids, params)
                return final(rid, created, body.model, answer, done, chat, token_text(body.model))
            events = engine.stream(body.model, ids, params)
            first = await anext(events)
        except QueueFullError as err:
            raise APIError(429, str(err), "server_overloaded", "queue_full", headers={"Retry-After": "1"}) from None
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(sse(rid, created, body.model, first, events, chat, include_usage,
                                     token_text(body.model)),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.post("/v1/chat/completions")
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

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest):
        return await respond(body, body.prompt, chat=False)

    @app.post("/v1/classifications")
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
