"""The job state machine through HTTP, with a fast stand-in trainer (the real one runs in test_openai_client)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from ft_helpers import training_jsonl, wait_for

from tunesmith.finetune_api import FinetuneAPI


def client_for(project, trainer) -> tuple[TestClient, FinetuneAPI]:
    api = FinetuneAPI(project, trainer=trainer, evaluator=None, poll_seconds=0.05)
    app = FastAPI()
    app.include_router(api.router)
    return TestClient(app), api


def upload(client, content: bytes, name: str = "train.jsonl") -> dict:
    response = client.post("/v1/files", files={"file": (name, content)}, data={"purpose": "fine-tune"})
    assert response.status_code == 200, response.text
    return response.json()


def status_of(client, job_id):
    return client.get(f"/v1/fine_tuning/jobs/{job_id}").json()["status"]


def test_job_runs_to_success_with_events_checkpoints_and_results(project, fake_trainer_importable):
    client, api = client_for(project, fake_trainer_importable)
    with client:
        file = upload(client, training_jsonl(3))
        job = client.post("/v1/fine_tuning/jobs", json={
            "model": "gpt-4o-mini", "training_file": file["id"], "suffix": "math", "seed": 7,
            "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}}}).json()
        assert job["status"] == "queued" and job["fine_tuned_model"] is None
        assert job["hyperparameters"] == {"n_epochs": 2, "batch_size": 2, "learning_rate_multiplier": 1.0}
        wait_for(lambda: status_of(client, job["id"]) in {"succeeded", "failed"})
        done = client.get(f"/v1/fine_tuning/jobs/{job['id']}").json()
        assert done["status"] == "succeeded", done
        assert done["fine_tuned_model"] == f"ft:gpt-4o-mini:math:{job['id'][6:14]}"
        assert done["trained_tokens"] == 60 and done["finished_at"]
        events = client.get(f"/v1/fine_tuning/jobs/{job['id']}/events", params={"limit": 100}).json()["data"]
        messages = [e["message"] for e in reversed(events)]
        assert messages[0].startswith("Created fine-tuning job")
        assert messages[-1] == "The job has successfully completed"
        assert sum(e["type"] == "metrics" for e in events) == 6
        checkpoints = client.get(f"/v1/fine_tuning/jobs/{job['id']}/checkpoints").json()["data"]
        assert [c["step_number"] for c in checkpoints] == [6, 4, 2]
        assert checkpoints[0]["fine_tuned_model_checkpoint"] == done["fine_tuned_model"] + ":ckpt-step-6"
        results = client.get(f"/v1/files/{done['result_files'][0]}/content").text.splitlines()
        assert results[0].startswith("step,train_loss") and len(results) == 7
        assert api.resolve_model(done["fine_tuned_model"]) is not None
        export = client.get(f"/v1/fine_tuning/jobs/{job['id']}/export")
        assert export.status_code == 200 and export.content[:2] == b"\x1f\x8b"
