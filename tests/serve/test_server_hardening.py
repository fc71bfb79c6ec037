"""Request edge cases of the assembled server: the docs behind the key, seeds out of range, long or hostile
upload names, large uploads, and /metrics counting every response (500s included)."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from fastapi.testclient import TestClient

KEY = {"Authorization": "Bearer sk-h"}
LINE = json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})


@pytest.fixture
def project(tmp_path, tiny_lm_dir):
    from tunesmith.config import parse_config
    from tunesmith.project import Project

    return Project.create(tmp_path / "proj", parse_config({
        "name": "hard", "model": {"name": str(tiny_lm_dir)},
        "serve": {"api_keys": ["sk-h"], "batch_window_ms": 0, "max_tokens_limit": 8},
        "finetune_api": {"evaluate": False, "max_file_mb": 3}}))


def _app(project, model_dir):
    """The server's core app with the fine-tuning API mounted, as `build_server` assembles it (spelled out with
    the two calls today's and yesterday's code both have, so these tests show what changed)."""
    from tunesmith.finetune_api.mount import mount_finetune_api
    from tunesmith.serve import create_app

    app = create_app([model_dir], project.config.serve)
    mount_finetune_api(app, project, use_launcher=False)
    return app


@pytest.fixture
def client(project, tiny_lm_dir):
    with TestClient(_app(project, tiny_lm_dir), raise_server_exceptions=False) as client:
        yield client


def test_openapi_and_docs_need_the_key_and_work_with_it(client):
    assert client.get("/openapi.json").status_code == 401
    assert client.get("/docs").status_code == 401
    schema = client.get("/openapi.json", headers=KEY).json()
    assert "/v1/chat/completions" in schema["paths"] and "/v1/files" in schema["paths"]
    page = client.get("/docs", headers=KEY)
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert '"/v1/chat/completions"' in page.text, "the schema is inlined: the page's own fetch would carry no key"


@pytest.mark.parametrize("seed", [2**64, 2**63, -(2**63) - 1])
def test_a_seed_out_of_range_is_a_400_naming_it(client, tiny_lm_dir, seed):
    for path, body in [("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
                       ("/v1/completions", {"prompt": "hi"})]:
        reply = client.post(path, headers=KEY, json={"model": tiny_lm_dir.name, "max_tokens": 2, "temperature": 1,
                                                     "seed": seed, **body})
        assert reply.status_code == 400, reply.text
        assert reply.json()["error"]["param"] == "seed"


def test_the_largest_seeds_sample(client, tiny_lm_dir):
    for seed in (2**63 - 1, -(2**63), 0):
        reply = client.post("/v1/completions", headers=KEY, json={"model": tiny_lm_dir.name, "prompt": "hi",
                                                                  "max_tokens": 2, "temperature": 1, "seed": seed})
        assert reply.status_code == 200, reply.text


def _upload(client, name: str, content: bytes):
    return client.post("/v1/files", headers=KEY, data={"purpose": "fine-tune"},
                       files={"file": (name, content, "application/jsonl")})


def _file_folders(project) -> list:
    folder = project.root / "finetune" / "files"
    return sorted(p for p in folder.iterdir()) if folder.exists() else []


def test_a_400_character_upload_name_is_shortened_on_disk(client, project):
    name = "x" * 396 + ".jsonl"
    stored = _upload(client, name, (LINE + "\n").encode())
    assert stored.status_code == 200, stored.text
    [folder] = _file_folders(project)
    [on_disk] = list(folder.iterdir())
    assert on_disk.suffix == ".jsonl" and len(on_disk.name) <= 100
    assert client.get(f"/v1/files/{stored.json()['id']}/content", headers=KEY).content == (LINE + "\n").encode()


def test_a_rejected_upload_leaves_no_folder_and_no_server_path(client, project):
    broken = _upload(client, "y" * 400 + ".jsonl", b"{not json\n")
    assert broken.status_code == 400
    assert str(project.root) not in broken.text and "/tmp" not in broken.text
    assert _file_folders(project) == []


def test_a_failing_disk_is_a_500_without_the_server_path_and_without_leftovers(client, project, monkeypatch):
    import errno
    from pathlib import Path

    def full_disk(self, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    reply = _upload(client, "data.jsonl", (LINE + "\n").encode())
    assert reply.status_code == 500 and reply.json()["error"]["type"] == "server_error"
    assert str(project.root) not in reply.text and "/tmp" not in reply.text
    assert _file_folders(project) == []


def test_uploads_get_the_fine_tuning_limit_not_the_chat_body_limit(client):
    big = ("\n".join([LINE] * 30_000) + "\n").encode()  # ~2.9 MB: over serve.max_body_bytes, under max_file_mb
    assert 1_000_000 < len(big) < 3_000_000
    assert _upload(client, "big.jsonl", big).status_code == 200
    assert _upload(client, "huge.jsonl", big + big).status_code == 413


def _count(metrics: str, route: str, status: int) -> float:
    found = re.search(rf'tunesmith_http_requests_total{{route="{re.escape(route)}",status="{status}"}} (\S+)',
                      metrics)
    return float(found.group(1)) if found else 0.0


def test_metrics_count_every_response_by_status_including_500(project, tiny_lm_dir, tmp_path):
    doomed = tmp_path / "doomed-lm"
    shutil.copytree(tiny_lm_dir, doomed)
    app = _app(project, doomed)
    (doomed / "model.safetensors").unlink()  # the engine's first load fails: an unexpected error, a 500
    ask = {"model": "doomed-lm", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}
    with TestClient(app, raise_server_exceptions=False) as client:
        failed = client.post("/v1/chat/completions", headers=KEY, json=ask)
        assert failed.status_code == 500 and str(tmp_path) not in failed.text
        assert client.post("/v1/chat/completions", json=ask).status_code == 401
        assert client.post("/v1/chat/completions", headers=KEY, json={**ask, "max_tokens": 0}).status_code == 400
        assert client.get("/v1/files/file-x", headers=KEY).status_code == 404
        assert client.post("/v1/completions", headers=KEY, content=b"x" * 1_100_000).status_code == 413
        metrics = client.get("/metrics", headers=KEY).text
    assert _count(metrics, "/v1/chat/completions", 500) == 1
    assert _count(metrics, "/v1/chat/completions", 401) == 1
    assert _count(metrics, "/v1/chat/completions", 400) == 1
    assert _count(metrics, "/v1/files/{file_id}", 404) == 1
    assert _count(metrics, "/v1/completions", 413) == 1


@pytest.mark.parametrize("seed", [2**64, -1])
def test_a_fine_tuning_seed_out_of_range_is_a_400(client, seed):
    uploaded = _upload(client, "data.jsonl", (LINE + "\n").encode()).json()
    reply = client.post("/v1/fine_tuning/jobs", headers=KEY, json={"model": "gpt-4o-mini", "seed": seed,
                                                                    "training_file": uploaded["id"]})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "seed", reply.text
