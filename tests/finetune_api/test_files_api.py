"""Files API and request checks: broken uploads fail at once, in OpenAI's error shape, with line numbers."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from ft_helpers import chat_line, make_project, training_jsonl

from tunesmith.finetune_api import FinetuneAPI
from tunesmith.finetune_api.errors import OpenAIError


@pytest.fixture
def client(project):
    app = FastAPI()
    app.include_router(FinetuneAPI(project, evaluator=None).router)
    return TestClient(app)  # no `with`: the worker is not started, requests only


def post_file(client, content: bytes, purpose: str = "fine-tune", name: str = "data.jsonl"):
    return client.post("/v1/files", files={"file": (name, content)}, data={"purpose": purpose})


def test_upload_list_retrieve_content_delete(client):
    content = training_jsonl(3)
    created = post_file(client, content).json()
    assert created["object"] == "file" and created["bytes"] == len(content) and created["purpose"] == "fine-tune"
    assert created["filename"] == "data.jsonl" and created["id"].startswith("file-")
    assert client.get(f"/v1/files/{created['id']}").json() == created
    assert client.get(f"/v1/files/{created['id']}/content").content == content
    assert [f["id"] for f in client.get("/v1/files").json()["data"]] == [created["id"]]
    assert client.delete(f"/v1/files/{created['id']}").json() == {"id": created["id"], "object": "file",
                                                                 "deleted": True}
    missing = client.get(f"/v1/files/{created['id']}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_a_broken_file_is_rejected_at_upload_with_line_numbers(client):
    lines = [chat_line("hi", "hello"), "{not json", chat_line("q", "a"),
             '{"messages": [{"role": "robot", "content": "x"}]}', "",
             '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 2}]}']
    response = post_file(client, "\n".join(lines).encode())
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == "file"
    assert error["code"] == "invalid_file_format"
    assert "3 invalid line(s) in data.jsonl (line 2, 4, 6)" in error["message"]
    assert "data.jsonl:2: invalid JSON" in error["message"]
    assert "data.jsonl:4: messages[0].role: unknown role 'robot'" in error["message"]
    assert "data.jsonl:6: messages[1].weight: weight must be 0 or 1" in error["message"]
    assert client.get("/v1/files").json()["data"] == []  # nothing stored


def test_per_message_weights_reach_the_training_records(project):
    api = FinetuneAPI(project, evaluator=None)
    zero_only = chat_line("q", "a", weight=0) + "\n"
    with pytest.raises(OpenAIError, match="every assistant message has weight 0"):
        api.files.upload("zero.jsonl", zero_only.encode(), "fine-tune")
    mixed = ('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "old", "weight": 0},'
             ' {"role": "user", "content": "again"}, {"role": "assistant", "content": "new", "weight": 1}]}\n')
    file = api.files.upload("mixed.jsonl", mixed.encode(), "fine-tune")
    [record] = api.files.records(file["id"], "training_file")
    assert [m.get("weight") for m in record["messages"]] == [None, 0, None, 1]
    legacy = api.files.upload("legacy.jsonl", b'{"prompt": "p", "completion": "c"}\n', "fine-tune")
    [record] = api.files.records(legacy["id"], "training_file")
    assert [m["role"] for m in record["messages"]] == ["user", "assistant"]


def test_upload_limits_and_purpose(client, project):
    assert post_file(client, training_jsonl(), purpose="assistants").json()["error"]["param"] == "purpose"
    assert post_file(client, b"\n\n").json()["error"]["message"].endswith("has no training examples.")
    assert post_file(client, b"\xff\xfe\x00").json()["error"]["code"] == "invalid_file_format"
    limit = int(project.config.finetune_api.max_file_mb * 1_000_000)
    too_big = post_file(client, b" " * (limit + 1))
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "file_too_large"


def test_job_requests_are_checked_before_queueing(client):
    file_id = post_file(client, training_jsonl()).json()["id"]

    def create(**body):
        return client.post("/v1/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": file_id, **body})

    unmapped = create(model="gpt-5-turbo").json()["error"]
    assert unmapped["param"] == "model" and unmapped["code"] == "model_not_available"
    assert "gpt-4o-mini" in unmapped["message"] and "smollm2-135m-instruct" in unmapped["message"]
    assert create(training_file="file-nope").json()["error"]["param"] == "training_file"
    assert create(validation_file="file-nope").json()["error"]["param"] == "validation_file"
    bad_epochs = create(hyperparameters={"n_epochs": 0}).json()["error"]
    assert bad_epochs["param"] == "hyperparameters.n_epochs"
    assert create(hyperparameters={"n_epoch": 2}).json()["error"]["message"].startswith("unknown hyperparameter")
    assert create(method={"type": "reinforcement"}).json()["error"]["code"] == "unsupported_method"
    assert create(suffix="has:colon").json()["error"]["param"] == "suffix"
    assert client.post("/v1/fine_tuning/jobs", json={"training_file": file_id}).json()["error"]["param"] == "model"
    assert create(metadata={"k": 1}).json()["error"]["param"] == "metadata"
    ok = create(hyperparameters={"n_epochs": "auto", "batch_size": 4, "learning_rate_multiplier": 0.5}).json()
    assert ok["hyperparameters"] == {"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 0.5}
    assert ok["status"] == "queued" and isinstance(ok["seed"], int)
    missing = client.get("/v1/fine_tuning/jobs/ftjob-nope")
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "fine_tuning_job_id"
    report = client.get(f"/v1/fine_tuning/jobs/{ok['id']}/report").json()["error"]
    assert report["code"] == "report_not_available"
    assert client.get(f"/v1/fine_tuning/jobs/{ok['id']}/export").status_code == 409


def test_a_model_map_entry_pointing_nowhere_is_reported_as_a_server_problem(tmp_path):
    project = make_project(tmp_path / "p", tmp_path / "missing-folder")
    app = FastAPI()
    app.include_router(FinetuneAPI(project, evaluator=None).router)
    client = TestClient(app)
    file_id = post_file(client, training_jsonl()).json()["id"]
    response = client.post("/v1/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": file_id})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "model_map_invalid" and "missing-folder" in response.text


def test_jobs_list_filters_by_metadata(client):
    file_id = post_file(client, training_jsonl()).json()["id"]
    ids = {}
    for name, metadata in {"a": {"team": "support", "v": "1"}, "b": {"team": "sales"}, "c": None}.items():
        ids[name] = client.post("/v1/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": file_id,
                                                              "metadata": metadata}).json()["id"]

    def listed(query: str) -> list[str]:
        return [job["id"] for job in client.get(f"/v1/fine_tuning/jobs?{query}").json()["data"]]

    assert listed("metadata[team]=support") == [ids["a"]]
    assert listed("metadata[team]=support&metadata[v]=2") == []
    assert listed("metadata=null") == [ids["c"]]
    assert listed("") == [ids["c"], ids["b"], ids["a"]]
