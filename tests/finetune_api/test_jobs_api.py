"""The job state machine through HTTP, with a fast stand-in trainer (the real one runs in test_openai_client)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from ft_helpers import training_jsonl, wait_for

from tunesmith.finetune_api import FinetuneAPI

# A response is a snapshot: the worker may already have moved a job on from the status a request left it in.
QUEUED_OR_LATER = {"queued", "validating_files", "running", "succeeded"}


def stopping_or(status: str) -> set[str]:
    """A stop request answers at once with the job stopped or, on a slow machine, still stopping."""
    return {"running", status}


def client_for(project, trainer) -> tuple[TestClient, FinetuneAPI]:
    # one light process per job: the fork server would preload the whole ML stack for a fake trainer
    api = FinetuneAPI(project, trainer=trainer, evaluator=None, poll_seconds=0.05, use_launcher=False)
    app = FastAPI()
    app.include_router(api.router)
    return TestClient(app), api


def upload(client, content: bytes, name: str = "train.jsonl") -> dict:
    response = client.post("/v1/files", files={"file": (name, content)}, data={"purpose": "fine-tune"})
    assert response.status_code == 200, response.text
    return response.json()


def status_of(client, job_id):
    return client.get(f"/v1/fine_tuning/jobs/{job_id}").json()["status"]


def create_job(client, file_id: str) -> dict:
    return client.post("/v1/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": file_id}).json()


def wait_for_checkpoint(client, job_id: str) -> None:
    wait_for(lambda: client.get(f"/v1/fine_tuning/jobs/{job_id}/checkpoints").json()["data"])


def test_the_stand_in_trainer_marks_checkpoints_like_the_real_one():
    import fake_trainer

    from tunesmith.train.checkpoint import MARKER

    assert fake_trainer.MARKER == MARKER


def test_job_runs_to_success_with_events_checkpoints_and_results(project, fake_trainer_importable):
    client, api = client_for(project, fake_trainer_importable)
    with client:
        file = upload(client, training_jsonl(3))
        job = client.post("/v1/fine_tuning/jobs", json={
            "model": "gpt-4o-mini", "training_file": file["id"], "suffix": "math", "seed": 7,
            "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}}}).json()
        assert job["status"] in QUEUED_OR_LATER and job["fine_tuned_model"] is None
        assert job["hyperparameters"] == {"n_epochs": 2, "batch_size": 2, "learning_rate_multiplier": 1.0}
        wait_for(lambda: status_of(client, job["id"]) in {"succeeded", "failed"})
        done = client.get(f"/v1/fine_tuning/jobs/{job['id']}").json()
        assert done["status"] == "succeeded", done
        assert done["fine_tuned_model"] == f"ft:gpt-4o-mini:tunesmith-local:math:{job['id'][6:14]}"
        assert done["trained_tokens"] == 60 and done["finished_at"]
        events = client.get(f"/v1/fine_tuning/jobs/{job['id']}/events", params={"limit": 100}).json()["data"]
        messages = [e["message"] for e in reversed(events)]
        assert messages[0].startswith("Created fine-tuning job")
        assert messages[-1] == "The job has successfully completed"
        assert sum(e["type"] == "metrics" for e in events) == 6
        checkpoints = client.get(f"/v1/fine_tuning/jobs/{job['id']}/checkpoints").json()["data"]
        assert [c["step_number"] for c in checkpoints] == [6, 4]  # the trainer keeps the newest 2
        assert checkpoints[0]["fine_tuned_model_checkpoint"] == done["fine_tuned_model"] + ":ckpt-step-6"
        results = client.get(f"/v1/files/{done['result_files'][0]}/content").text.splitlines()
        assert results[0].startswith("step,train_loss") and len(results) == 7
        assert api.resolve_model(done["fine_tuned_model"]) is not None
        export = client.get(f"/v1/fine_tuning/jobs/{job['id']}/export")
        assert export.status_code == 200 and export.content[:2] == b"\x1f\x8b"


def test_cancel_mid_run_stops_training_and_keeps_the_checkpoint(project, fake_trainer_importable, hold):
    client, _ = client_for(project, fake_trainer_importable)
    with client:
        file = upload(client, training_jsonl(20))
        job = create_job(client, file["id"])
        wait_for_checkpoint(client, job["id"])
        cancelled = client.post(f"/v1/fine_tuning/jobs/{job['id']}/cancel").json()
        assert cancelled["status"] in stopping_or("cancelled") and cancelled["fine_tuned_model"] is None
        wait_for(lambda: status_of(client, job["id"]) == "cancelled")
        events = [e["message"] for e in client.get(f"/v1/fine_tuning/jobs/{job['id']}/events").json()["data"]]
        assert events[0] == "The job was cancelled."
        again = client.post(f"/v1/fine_tuning/jobs/{job['id']}/cancel")
        assert again.status_code == 400 and again.json()["error"]["code"] == "job_finished"


def test_a_queued_job_cancels_at_once_and_never_runs(project, fake_trainer_importable, hold):
    client, _ = client_for(project, fake_trainer_importable)
    with client:
        file = upload(client, training_jsonl(20))
        first = create_job(client, file["id"])
        second = create_job(client, file["id"])
        wait_for(lambda: status_of(client, first["id"]) == "running")
        assert status_of(client, second["id"]) == "queued"  # one job at a time
        assert client.post(f"/v1/fine_tuning/jobs/{second['id']}/cancel").json()["status"] == "cancelled"
        client.post(f"/v1/fine_tuning/jobs/{first['id']}/cancel")
        page = client.get("/v1/fine_tuning/jobs", params={"limit": 1}).json()
        assert page["has_more"] and page["data"][0]["id"] == second["id"]
        rest = client.get("/v1/fine_tuning/jobs", params={"after": second["id"]}).json()
        assert [j["id"] for j in rest["data"]] == [first["id"]] and not rest["has_more"]
        assert client.get(f"/v1/fine_tuning/jobs/{second['id']}/checkpoints").json()["data"] == []


def test_server_restart_mid_job_resumes_from_the_last_checkpoint(project, fake_trainer_importable, hold):
    client, _ = client_for(project, fake_trainer_importable)
    with client:
        file = upload(client, training_jsonl(10))
        job = create_job(client, file["id"])
        wait_for_checkpoint(client, job["id"])
    # the server stopped: training checkpointed and the job was left running, not lost
    assert status_of(client, job["id"]) == "running"
    hold.release()
    restarted, _ = client_for(project, fake_trainer_importable)
    with restarted:
        wait_for(lambda: status_of(restarted, job["id"]) in {"succeeded", "failed"})
        done = restarted.get(f"/v1/fine_tuning/jobs/{job['id']}").json()
        assert done["status"] == "succeeded", done
        events = restarted.get(f"/v1/fine_tuning/jobs/{job['id']}/events", params={"limit": 200}).json()["data"]
        messages = [e["message"] for e in events]
        assert any(m.startswith("The server restarted during this job; it will resume from checkpoint step")
                   for m in messages)
        assert any(m.startswith("Fine-tuning job resumed from checkpoint step") for m in messages)
        steps = [e["data"]["step"] for e in reversed(events) if e["type"] == "metrics"]
        assert steps == list(range(1, 21))  # every step reported once across both servers


def test_a_job_interrupted_too_often_fails_with_the_reason(project, fake_trainer_importable):
    client, api = client_for(project, fake_trainer_importable)
    file = api.files.upload("train.jsonl", training_jsonl(2), "fine-tune")
    job = api.jobs.create({"model": "gpt-4o-mini", "training_file": file["id"]})
    # as if the server was killed twice while this job ran (max_restarts is 1 in this project)
    api.store.update("jobs", job["id"], status="running", attempts=2)
    with client:
        failed = client.get(f"/v1/fine_tuning/jobs/{job['id']}").json()
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "server_restart"
    assert "stopped 2 times" in failed["error"]["message"] and "max_restarts=1" in failed["error"]["message"]


def test_a_training_crash_fails_the_job_with_the_error(project, fake_trainer_importable):
    client, _ = client_for(project, fake_trainer_importable)
    with client:
        file = upload(client, b'{"messages": [{"role": "user", "content": "hi"}, '
                              b'{"role": "assistant", "content": "FAIL"}]}\n')
        job = create_job(client, file["id"])
        wait_for(lambda: status_of(client, job["id"]) in {"succeeded", "failed"})
        failed = client.get(f"/v1/fine_tuning/jobs/{job['id']}").json()
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "training_error", "param": None,
                               "message": "ValueError: the fake trainer was asked to fail"}


def test_pause_checkpoints_and_resume_continues_from_there(project, fake_trainer_importable, hold):
    client, _ = client_for(project, fake_trainer_importable)
    with client:
        file = upload(client, training_jsonl(10))
        job = create_job(client, file["id"])
        wait_for_checkpoint(client, job["id"])
        paused = client.post(f"/v1/fine_tuning/jobs/{job['id']}/pause").json()
        assert paused["status"] in stopping_or("paused")
        wait_for(lambda: status_of(client, job["id"]) == "paused")
        assert client.post(f"/v1/fine_tuning/jobs/{job['id']}/pause").json()["error"]["code"] == "job_not_running"
        hold.release()
        resumed = client.post(f"/v1/fine_tuning/jobs/{job['id']}/resume").json()
        assert resumed["status"] in QUEUED_OR_LATER
        wait_for(lambda: status_of(client, job["id"]) in {"succeeded", "failed"})
        assert status_of(client, job["id"]) == "succeeded"
        events = client.get(f"/v1/fine_tuning/jobs/{job['id']}/events", params={"limit": 200}).json()["data"]
        messages = [e["message"] for e in events]
        [pause] = [m for m in messages if m.startswith("The job was paused at checkpoint step")]
        step = int(pause.split("step ")[1].split(";")[0])
        assert f"Resumed: the job is queued again and continues from checkpoint step {step}." in messages
        assert f"Fine-tuning job resumed from checkpoint step {step}" in messages
        steps = [e["data"]["step"] for e in reversed(events) if e["type"] == "metrics"]
        assert steps == list(range(1, 21))  # nothing retrained, nothing skipped
        assert client.post(f"/v1/fine_tuning/jobs/{job['id']}/resume").json()["error"]["code"] == "job_not_paused"


def test_a_second_server_on_the_project_waits_for_the_job_lock_then_takes_over(project, fake_trainer_importable,
                                                                              hold):
    first, _ = client_for(project, fake_trainer_importable)
    second, standby = client_for(project, fake_trainer_importable)
    first.__enter__()
    try:
        file = upload(first, training_jsonl(10))
        job = create_job(first, file["id"])
        wait_for_checkpoint(first, job["id"])
        with second:  # e.g. a second uvicorn worker: serves requests, but leaves the running job alone
            assert status_of(second, job["id"]) == "running"
            assert [t.name for t in standby.worker.threads] == ["finetune-lock-wait"]  # no job threads here
            messages = [e["message"] for e in second.get(f"/v1/fine_tuning/jobs/{job['id']}/events").json()["data"]]
            assert not any("restarted" in m for m in messages)
            hold.release()
            first.__exit__(None, None, None)  # the first server stops; the second takes the jobs over
            first = None
            wait_for(lambda: status_of(second, job["id"]) == "succeeded", timeout=60)
    finally:
        if first is not None:
            first.__exit__(None, None, None)


def test_the_creation_event_comes_first_even_when_the_worker_is_faster(project, fake_trainer_importable,
                                                                        monkeypatch):
    """A worker that picks a new job up at once (a loaded machine's scheduling) logs after its creation event."""
    from tunesmith.finetune_api.store import Store

    client, _ = client_for(project, fake_trainer_importable)
    real_insert = Store.insert

    def insert_then_race(self, table, values, *args, **kwargs):
        row = real_insert(self, table, values, *args, **kwargs)
        if table == "jobs":  # what the worker thread does as soon as it sees the queued row
            self.add_event(values["id"], "Validating training file: " + values["training_file"])
        return row

    with client:
        file = upload(client, training_jsonl(3))
        with monkeypatch.context() as patch:
            patch.setattr(Store, "insert", insert_then_race)
            job = create_job(client, file["id"])
        events = client.get(f"/v1/fine_tuning/jobs/{job['id']}/events", params={"limit": 100}).json()["data"]
        assert events[-1]["message"] == f"Created fine-tuning job: {job['id']}"
