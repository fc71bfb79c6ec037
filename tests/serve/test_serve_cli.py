"""`tunesmith serve` pieces: key hashing, rate limiting and mounting the project's other APIs."""

from __future__ import annotations

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


def test_project_serve_mounts_feedback_and_finetuning_behind_the_same_keys(tmp_path, tiny_lm_dir):
    import httpx

    from tunesmith.cli.serve_cmd import _attach_project_apis
    from tunesmith.config import parse_config
    from tunesmith.project import Project
    from tunesmith.serve import create_app, serve_in_thread

    config = parse_config({"name": "demo", "model": {"name": str(tiny_lm_dir)}, "serve": {"api_keys": ["k"]}})
    Project.create(tmp_path / "demo", config)
    app = create_app([tiny_lm_dir], config.serve)
    assert "/v1/feedback" in _attach_project_apis(app, tmp_path / "demo", config)
    with serve_in_thread(app) as url:
        assert httpx.get(f"{url}/v1/files").status_code == 401
        assert httpx.get(f"{url}/v1/files", headers={"Authorization": "Bearer k"}).status_code == 200
        assert httpx.post(f"{url}/v1/feedback", json={}).status_code == 401
        assert httpx.post(f"{url}/v1/feedback", json={}, headers={"Authorization": "Bearer k"}).status_code != 404
