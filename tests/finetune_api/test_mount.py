"""The API on tunesmith's own server: same keys, and finished jobs' models listed by `/v1/models` at start."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from ft_helpers import make_project

from tunesmith.config import ServeConfig
from tunesmith.finetune_api.mount import mount_finetune_api
from tunesmith.serve import create_app


def test_mounted_api_uses_the_server_keys_and_offers_finished_models(tmp_path, tiny_lm_dir):
    project = make_project(tmp_path / "project", tiny_lm_dir)
    run_dir = tmp_path / "project" / "runs" / "done"
    (run_dir / "adapter").mkdir(parents=True)
    (run_dir / "adapter" / "adapter_config.json").write_text("{}")
    run = {"base_model": str(tiny_lm_dir), "task": "chat", "status": "completed"}
    (run_dir / "run.json").write_text(json.dumps(run))
    app = create_app([str(tiny_lm_dir)], ServeConfig(api_keys=["k1"]))
    api = mount_finetune_api(app, project, evaluator=None, use_launcher=False)
    file = api.files.upload("t.jsonl", b'{"messages": [{"role": "user", "content": "q"}, '
                                       b'{"role": "assistant", "content": "a"}]}\n', "fine-tune")
    job = api.jobs.create({"model": "gpt-4o-mini", "training_file": file["id"], "suffix": "x"})
    api.store.update("jobs", job["id"], status="succeeded", run_dir=str(run_dir))  # as if it had trained
    with TestClient(app) as client:
        denied = client.get("/v1/fine_tuning/jobs")
        assert denied.status_code == 401 and denied.json()["error"]["code"] == "invalid_api_key"
        headers = {"Authorization": "Bearer k1"}
        assert client.get("/v1/fine_tuning/jobs", headers=headers).json()["data"][0]["id"] == job["id"]
        models = [m["id"] for m in client.get("/v1/models", headers=headers).json()["data"]]
        assert job["fine_tuned_model"] in models
        assert job["fine_tuned_model"].startswith("ft:gpt-4o-mini:tunesmith-local:x:")
