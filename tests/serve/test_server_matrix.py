"""Every way of starting a server × every route × where the key is set × what the client sends.

Each mode is assembled by `build_server` the way its caller does it: `tunesmith serve` (plain, torch),
`tunesmith serve --production`, the studio's Deploy page (`studio.serving.build_server`) and the llamacpp
backend. llama-cpp-python is an optional extra that compiles for minutes, so the llamacpp mode runs the
real assembly (GGUF registry, one-at-a-time engine, project mounts) over a stand-in for `llama_cpp.Llama`
that emits two tokens; its decoding is tested against the real library in test_llamacpp.py.
"""

from __future__ import annotations

import contextlib
import json

import pytest
from fastapi.testclient import TestClient

KEY = "sk-Matrix-key-7"
PRESENTED = {"no key": None, "wrong key": "sk-not-this-one", "wrong case": KEY.upper(), "right key": KEY}
MODES = ["plain", "production", "studio", "llamacpp"]
SOURCES = ["config", "env"]
UPLOAD = (json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
          + "\n").encode()


def _request(route: str, lm: str, classifier: str) -> dict:
    ask = [{"role": "user", "content": "hi"}]
    return {
        "chat": {"method": "POST", "url": "/v1/chat/completions", "json": {"model": lm, "messages": ask,
                                                                            "max_tokens": 2}},
        "completions": {"method": "POST", "url": "/v1/completions", "json": {"model": lm, "prompt": "hi",
                                                                              "max_tokens": 2}},
        "models": {"method": "GET", "url": "/v1/models"},
        "classifications": {"method": "POST", "url": "/v1/classifications",
                            "json": {"model": classifier, "input": "refund my order"}},
        "feedback": {"method": "POST", "url": "/v1/feedback", "json": {"response_id": "r-1", "rating": "up"}},
        "files": {"method": "POST", "url": "/v1/files", "data": {"purpose": "fine-tune"},
                  "files": {"file": ("train.jsonl", UPLOAD, "application/jsonl")}},
        "fine-tuning jobs": {"method": "GET", "url": "/v1/fine_tuning/jobs"},
        "metrics": {"method": "GET", "url": "/metrics"},
        "openapi": {"method": "GET", "url": "/openapi.json"},
        "docs": {"method": "GET", "url": "/docs"},
    }[route]


ROUTES = ["chat", "completions", "models", "classifications", "feedback", "files", "fine-tuning jobs", "metrics",
          "openapi", "docs"]
OK = {"feedback": 201}


class StandInLlama:
    """Just enough of `llama_cpp.Llama` for the engine: two ordinary tokens, then end of turn."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def token_eos(self) -> int:
        return self.tokenizer.eos_token_id

    def set_seed(self, seed: int) -> None:
        pass

    def generate(self, tokens, **_):
        yield from self.tokenizer("ok fine", add_special_tokens=False)["input_ids"][:2]
        yield self.token_eos()


def _project(root, models, source: str, backend: str = "torch"):
    """A project whose production model is the LoRA run; keys in its tunesmith.yaml or (source env) not."""
    from tunesmith.config import parse_config
    from tunesmith.feedback import open_project_store, promote
    from tunesmith.project import Project

    serve = {"batch_window_ms": 0, "max_tokens_limit": 8, "default_max_tokens": 2, "backend": backend,
             "api_keys": [KEY] if source == "config" else []}
    project = Project.create(root, parse_config({
        "name": "matrix", "model": {"name": str(models["lm"])}, "serve": serve,
        "finetune_api": {"evaluate": False, "model_map": {"gpt-4o-mini": str(models["lm"])}}}))
    promote(open_project_store(project), models["run"])
    return project


def _build(mode: str, project, models):
    """(server, chat model id, classifier model id) the way each caller builds it."""
    from tunesmith.serve import build_server
    from tunesmith.studio import serving as studio

    quick = {"use_launcher": False, "evaluator": None}
    if mode == "plain":
        server = build_server([models["lm"], models["classifier"]], project=project, finetune_options=quick)
        return server, models["lm"].name, "intent-cls"
    if mode == "production":
        server = build_server([models["classifier"]], project=project, production=True, finetune_options=quick)
        return server, "matrix", "intent-cls"
    if mode == "studio":
        server = studio.build_server(project.root, str(models["lm"]), 8123)
        return server, models["lm"].name, models["lm"].name  # one model: classifications answer 400
    server = build_server([models["gguf"]], project=project, finetune_options=quick)
    return server, "bot-gguf", "bot-gguf"


@pytest.fixture(scope="module")
def servers(served_models, tmp_path_factory):
    """`servers(mode, source)` → (TestClient, chat model, classifier model), built once and kept open."""
    built, stack = {}, contextlib.ExitStack()
    patches = stack.enter_context(pytest.MonkeyPatch.context())
    from tunesmith.deploy import gguf_runtime
    from tunesmith.models.loading import load_tokenizer

    patches.setattr(gguf_runtime, "llama_cpp_available", lambda: True)
    patches.setattr(gguf_runtime, "open_llama", lambda path, **_: StandInLlama(load_tokenizer(path.parent)))

    def get(mode: str, source: str):
        if (mode, source) not in built:
            project = _project(tmp_path_factory.mktemp(f"{mode}-{source}"), served_models, source,
                               "llamacpp" if mode == "llamacpp" else "torch")
            with pytest.MonkeyPatch.context() as env:
                if source == "env":
                    env.setenv("TUNESMITH_API_KEYS", f"sk-other, {KEY}")
                else:
                    env.delenv("TUNESMITH_API_KEYS", raising=False)
                server, lm, classifier = _build(mode, project, served_models)
            client = stack.enter_context(TestClient(server.app))
            built[mode, source] = server, client, lm, classifier
        return built[mode, source]

    with stack:
        yield get


@pytest.mark.parametrize("presented", list(PRESENTED))
@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("mode", MODES)
def test_every_route_needs_the_key(servers, mode, source, route, presented):
    server, client, lm, classifier = servers(mode, source)
    assert server.keyed
    key = PRESENTED[presented]
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    request = _request(route, lm, classifier)
    reply = client.request(request.pop("method"), request.pop("url"), headers=headers, **request)
    if presented != "right key":
        assert reply.status_code == 401, reply.text
        assert reply.json()["error"]["code"] == "invalid_api_key"
        return
    expected = 400 if route == "classifications" and classifier == lm else OK.get(route, 200)
    assert reply.status_code == expected, reply.text


@pytest.mark.parametrize("mode", MODES)
def test_only_health_answers_without_a_key(servers, mode):
    """Every operation the assembled app documents (path parameters filled in), not only the ones named above."""
    import re

    server, client, _, _ = servers(mode, "env")
    assert client.get("/health").status_code == 200
    operations = [(method.upper(), re.sub(r"\{[^}]+\}", "x-1", path))
                  for path, item in server.app.openapi()["paths"].items() for method in item if path != "/health"]
    assert len(operations) >= 20, "the fine-tuning and feedback routes should be mounted in every mode"
    for method, path in [*operations, ("GET", "/docs"), ("GET", "/openapi.json"), ("GET", "/no/such/route")]:
        reply = client.request(method, path)
        assert reply.status_code == 401, f"{method} {path}: {reply.status_code}"


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_mounts_feedback_and_fine_tuning(servers, mode):
    server, _, _, _ = servers(mode, "config")
    assert server.mounted == ["/v1/feedback", "/v1/files", "/v1/fine_tuning/jobs"]
    paths = set(server.app.openapi()["paths"])
    assert {"/v1/feedback", "/v1/files", "/v1/fine_tuning/jobs", "/metrics", "/v1/chat/completions"} <= paths
