"""The FastAPI app: OpenAI-compatible routes over the engine, behind keys, limits and metrics.

`create_app` builds the app over a model registry; `tunesmith.serve.server.build_server` is what assembles a
whole server (keys, backend, project mounts) and what the CLI, the studio and the tests call.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tunesmith.config.serve import ServeConfig
from tunesmith.runs import rendered_prompt
from tunesmith.serve import constrain
from tunesmith.serve.auth import Guard, KeyRing, RateLimiter
from tunesmith.serve.engine import Engine, QueueFullError, gather_answer
from tunesmith.serve.errors import APIError, install_error_handlers
from tunesmith.serve.generation import (
    budget,
    choose_grammar,
    refuse_for_backend,
    refuse_unsupported,
    sampling,
    tool_plan,
)
from tunesmith.serve.limits import BodySizeLimit
from tunesmith.serve.logprobs import TokenText
from tunesmith.serve.metrics import Measured, Metrics
from tunesmith.serve.registry import ModelRegistry, UnknownModelError
from tunesmith.serve.request_id import RequestId
from tunesmith.serve.responses import Answer, chat_choice, completion_choice, envelope, mean_logprob, usage
from tunesmith.serve.sampling import SamplingParams
from tunesmith.serve.schemas import ChatRequest, ClassificationRequest, CompletionRequest
from tunesmith.serve.streaming import ChatChoice, CompletionChoice, merged, sse


class ServerApp(FastAPI):
    """A FastAPI app whose outermost layers are always the request id, metrics, then the key and rate-limit guard,
    whatever middleware or routers are added later (`add_middleware` would otherwise put them outside)."""

    def build_middleware_stack(self):
        inner = super().build_middleware_stack()
        return RequestId(Measured(Guard(inner, self.state.keys, self.state.limiter), self.state.metrics, self))


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
    app.state.mounted_models = {}  # model id → kind, for routers mounted later (embedding models): listed too
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
        return {"status": "ok", "models": [*registry.sources, *app.state.mounted_models], "queued": engine.queued}

    @app.get("/metrics")
    async def prometheus():
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def listed() -> dict[str, str]:
        """Every model id this server answers for → its kind (the registry's, then mounted routers')."""
        return {**{s.model_id: s.kind for s in registry.sources.values()}, **app.state.mounted_models}

    def model_object(model_id: str, kind: str) -> dict:
        return {"id": model_id, "object": "model", "created": int(time.time()), "owned_by": "tunesmith",
                "kind": kind}

    @app.get("/v1/models")
    async def list_models():
        return {"object": "list", "data": [model_object(i, kind) for i, kind in listed().items()]}

    @app.get("/v1/models/{model_id:path}")
    async def retrieve_model(model_id: str):
        kind = app.state.mounted_models.get(model_id)
        return model_object(model_id, kind) if kind else model_object(model_id, lookup(model_id).kind)

    def lookup(model: str):
        try:
            return registry.source(model)
        except UnknownModelError as err:
            raise APIError(404, str(err), code="model_not_found", param="model") from None

    def generator(model: str):
        """The tokenizer of a text-generating model (a classifier is a 400)."""
        if lookup(model).kind == "classifier":
            raise APIError(400, f"'{model}' is a classifier; use /v1/classifications.", param="model")
        return registry.tokenizer(model)

    def plan(body, tokenizer, prompts: list[list[int]], grammar: str | None, origin: str | None,
             choices: int) -> list[SamplingParams]:
        """Sampling parameters for each choice of each prompt (one list per prompt)."""
        refuse_for_backend(engine, config.backend, body, origin)
        if grammar is not None and body.stops:
            raise APIError(400, f"stop cannot be combined with {origin}: a stop string could cut the structured "
                           "answer short.", param="stop")
        if len(prompts) * choices > config.max_queue:
            raise APIError(400, f"{len(prompts) * choices} choices in one request exceed this server's queue of "
                           f"{config.max_queue}.", param="n")
        asked = body.max_tokens or getattr(body, "max_completion_tokens", None)
        context = registry.context_length(body.model)
        contract = lookup(body.model).contract
        default = min(contract.max_new_tokens, config.max_tokens_limit) if contract and contract.max_new_tokens \
            else config.default_max_tokens
        return [sampling(body, budget(asked, len(ids), context, default, config.max_tokens_limit),
                         body.logprob_count, grammar, len(tokenizer), choices, contract) for ids in prompts]

    async def answers(model: str, ids: list[int], params: list[SamplingParams], stream: bool):
        """Start the choices of one prompt: their event streams and first events (a full queue is a 429)."""
        try:
            streams = engine.open_streams(model, ids, params)
        except QueueFullError as err:
            raise APIError(429, str(err), "server_overloaded", "queue_full", headers={"Retry-After": "1"}) from None
        if stream:
            try:
                return streams, list(await asyncio.gather(*(anext(s) for s in streams)))
            except BaseException:
                for s in streams:
                    await s.aclose()
                raise
        results = await asyncio.gather(*(gather_answer(s, p.logprobs is not None) for s, p in
                                         zip(streams, params, strict=True)))
        return [Answer(text, done) for text, done in results]

    def streamed(body, head: dict, streams: list, firsts: list, choices: list, prompt_tokens: int):
        options = body.stream_options
        events = merged(streams, firsts)
        return StreamingResponse(sse(head, events, choices, prompt_tokens, bool(options and options.include_usage),
                                     bool(options and options.include_obfuscation)),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatRequest):
        from jinja2 import TemplateError

        refuse_unsupported(body)
        tokenizer = generator(body.model)
        tools = tool_plan(body)
        try:  # the model's contract (its trained system prompt when the request brings none), as evaluation
            text = rendered_prompt(tokenizer, lookup(body.model).contract, [m.plain() for m in body.messages],
                                   tools.tools)
        except (TemplateError, ValueError) as err:
            raise APIError(400, f"messages cannot be rendered with the model's chat template: {err}",
                           param="messages") from None
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        grammar, origin = choose_grammar(body, tools)
        (params,) = plan(body, tokenizer, [ids], grammar, origin, body.n)
        if grammar is not None:  # off the event loop: the first grammar for a tokenizer takes ~2 s to set up
            problem = await asyncio.to_thread(constrain.check, grammar, tokenizer)
            if problem:
                raise APIError(400, f"{origin} cannot be enforced: {problem}", param=origin)
        head = envelope("chatcmpl-" + uuid.uuid4().hex[:24], int(time.time()), body.model, True, body.service_tier)
        names = TokenText(tokenizer)
        if body.stream:
            streams, firsts = await answers(body.model, ids, params, stream=True)
            choices = [ChatChoice(i, names, tools.calls) for i in range(body.n)]
            return streamed(body, head, streams, firsts, choices, len(ids))
        done = await answers(body.model, ids, params, stream=False)
        return JSONResponse({**head, "choices": [chat_choice(i, a, names, tools.calls) for i, a in enumerate(done)],
                             "usage": usage(len(ids), [a.done for a in done])})

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest):
        refuse_unsupported(body)
        tokenizer = generator(body.model)
        vocab = len(tokenizer)
        prompts = [tokenizer(p, add_special_tokens=False)["input_ids"] if isinstance(p, str) else p
                   for p in body.prompts]
        if any(not 0 <= t < vocab for p in prompts for t in p):
            raise APIError(400, f"prompt holds a token id outside the vocabulary (0-{vocab - 1}).", param="prompt")
        best_of = max(body.best_of or body.n, body.n)
        params = plan(body, tokenizer, prompts, None, None, best_of)
        if best_of > body.n:  # every candidate needs its logprobs to be ranked
            params = [[replace(p, logprobs=p.logprobs or 0) for p in row] for row in params]
        echoes = [(p if isinstance(p, str) else tokenizer.decode(p)) if body.echo else "" for p in body.prompts]
        head = envelope("cmpl-" + uuid.uuid4().hex[:24], int(time.time()), body.model, False, body.service_tier)
        names = TokenText(tokenizer)
        prompt_tokens = sum(len(p) for p in prompts)
        if body.stream:
            started = []
            try:
                for ids, row in zip(prompts, params, strict=True):
                    started.append(await answers(body.model, ids, row, stream=True))
            except BaseException:  # a later prompt found the queue full: the earlier ones stop too
                for streams, _ in started:
                    for stream in streams:
                        await stream.aclose()
                raise
            choices = [CompletionChoice(i * body.n + j, names, echoes[i]) for i in range(len(prompts))
                       for j in range(body.n)]
            return streamed(body, head, [s for row, _ in started for s in row],
                            [f for _, row in started for f in row], choices, prompt_tokens)
        rows = await asyncio.gather(*(answers(body.model, ids, row, stream=False)
                                      for ids, row in zip(prompts, params, strict=True)))
        entries, spent = [], []
        for i, row in enumerate(rows):
            spent += [a.done for a in row]
            if best_of > body.n:
                row = sorted(row, key=mean_logprob, reverse=True)[: body.n]
                if body.logprobs is None:
                    for answer in row:
                        answer.done.logprobs = None
            entries += [completion_choice(i * body.n + j, a, names, echoes[i]) for j, a in enumerate(row)]
        return JSONResponse({**head, "choices": entries, "usage": usage(prompt_tokens, spent)})

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
