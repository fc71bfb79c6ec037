"""`tunesmith serve` pieces: key hashing, rate limiting and mounting the project's other APIs."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tunesmith.cli import _register_commands, app
from tunesmith.serve.auth import KeyRing, RateLimiter, hash_key


def test_hash_key_prints_a_digest_the_keyring_accepts():
    _register_commands()
    result = CliRunner().invoke(app, ["serve", "--hash-key", "sk-secret"])
    assert result.exit_code == 0
    digest = result.output.strip()
    assert digest == hash_key("sk-secret") and "sk-secret" not in digest
    ring = KeyRing(hashes=[digest])
    assert ring.check("sk-secret") == digest
    assert ring.check("sk-secreT") is None and ring.check(None) is None


def test_rate_limiter_refills_over_time():
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert limiter.acquire("a") == 0 and limiter.acquire("a") == 0
    wait = limiter.acquire("a")
    assert 0.9 < wait <= 1.0
    assert limiter.acquire("b") == 0, "buckets are per identity"
    now[0] += 1.0
    assert limiter.acquire("a") == 0


def _serve(args, monkeypatch, env_keys: str | None):
    """Run `tunesmith serve ARGS` up to the point it would listen; (the app it built, its output)."""
    import tunesmith.serve

    captured = {}
    monkeypatch.setattr(tunesmith.serve, "run", lambda app, host, port, **_: captured.update(app=app))
    if env_keys is None:
        monkeypatch.delenv("TUNESMITH_API_KEYS", raising=False)
    else:
        monkeypatch.setenv("TUNESMITH_API_KEYS", env_keys)
    _register_commands()
    result = CliRunner().invoke(app, ["serve", *args])
    assert result.exit_code == 0, result.output
    return captured["app"], result.output


@pytest.mark.parametrize("production", [False, True], ids=["plain", "production"])
def test_serve_with_the_key_only_in_the_environment_guards_every_route(tmp_path, served_models, monkeypatch,
                                                                     production):
    from fastapi.testclient import TestClient

    from tunesmith.config import parse_config
    from tunesmith.feedback import open_project_store, promote
    from tunesmith.project import Project

    project = Project.create(tmp_path / "shop", parse_config({
        "name": "shop", "model": {"name": str(served_models["lm"])}, "finetune_api": {"evaluate": False}}))
    promote(open_project_store(project), served_models["run"])
    flags = ["--production"] if production else [str(served_models["run"])]
    server, output = _serve([*flags, "-p", str(project.root), "--set", "serve.max_tokens_limit=8"], monkeypatch,
                            "sk-env-only")
    assert server.state.config.max_tokens_limit == 8, "--set applies in both modes"
    assert "/v1/feedback, /v1/files, /v1/fine_tuning/jobs" in output
    with TestClient(server) as client:
        model = "shop" if production else "chat-lora"
        for method, path, body in [("GET", "/v1/models", None), ("GET", "/metrics", None),
                                   ("POST", "/v1/chat/completions", {"model": model, "max_tokens": 1,
                                                                     "messages": [{"role": "user", "content": "x"}]}),
                                   ("POST", "/v1/feedback", {"response_id": "r", "correction": "better"}),
                                   ("GET", "/v1/fine_tuning/jobs", None)]:
            for key in (None, "sk-wrong", "SK-ENV-ONLY"):
                headers = {"Authorization": f"Bearer {key}"} if key else {}
                assert client.request(method, path, json=body, headers=headers).status_code == 401, (path, key)
            keyed = client.request(method, path, json=body, headers={"Authorization": "Bearer sk-env-only"})
            assert keyed.status_code in (200, 201), (path, keyed.text)


@pytest.mark.parametrize("production", [False, True], ids=["plain", "production"])
def test_serve_without_keys_on_a_public_interface_warns(tmp_path, served_models, monkeypatch, production):
    from tunesmith.config import parse_config
    from tunesmith.feedback import open_project_store, promote
    from tunesmith.project import Project

    project = Project.create(tmp_path / "shop", parse_config({"name": "shop",
                                                              "model": {"name": str(served_models["lm"])}}))
    promote(open_project_store(project), served_models["run"])
    flags = ["--production"] if production else []
    _, output = _serve([*flags, "-p", str(project.root), "--host", "0.0.0.0"], monkeypatch, None)
    assert "warning: no API keys set and listening on 0.0.0.0" in output
    _, quiet = _serve([*flags, "-p", str(project.root), "--host", "0.0.0.0"], monkeypatch, "sk-k")
    assert "warning: no API keys" not in quiet
