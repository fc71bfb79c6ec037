"""The default mapping end to end on the real bundled model: `gpt-4o-mini-2024-07-18` → smollm2-135m-instruct."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from ft_helpers import chat_line, wait_for

from tunesmith.config import ProjectConfig
from tunesmith.finetune_api.mount import mount_finetune_api
from tunesmith.project import Project
from tunesmith.serve import create_app


@pytest.mark.slow
def test_default_model_map_fine_tunes_and_serves_smollm2(tmp_path):
    config = ProjectConfig.model_validate({"model": {"max_length": 96}, "method": {"r": 4, "alpha": 8},
                                           "training": {"epochs": 1, "batch_size": 4},
                                           "finetune_api": {"evaluate": False}})
    project = Project.create(tmp_path / "project", config)
    app = create_app(["smollm2-135m-instruct"])
    mount_finetune_api(app, project)
    rows = [chat_line(f"Which shelf holds item {i}?", f"Shelf {i % 3 + 1}, aisle B.") for i in range(4)]
    with TestClient(app) as client:
        file = client.post("/v1/files", files={"file": ("t.jsonl", "\n".join(rows).encode())},
                           data={"purpose": "fine-tune"}).json()
        job = client.post("/v1/fine_tuning/jobs", json={"model": "gpt-4o-mini-2024-07-18",
                                                        "training_file": file["id"], "suffix": "shelves"}).json()
        done = wait_for(lambda: (j := client.get(f"/v1/fine_tuning/jobs/{job['id']}").json())["status"]
                        in {"succeeded", "failed"} and j, timeout=900, every=2.0)
        assert done["status"] == "succeeded", done["error"]
        answer = client.post("/v1/chat/completions", json={
            "model": done["fine_tuned_model"], "max_tokens": 8,
            "messages": [{"role": "user", "content": "Which shelf holds item 2?"}]}).json()
        assert answer["model"] == done["fine_tuned_model"] and answer["choices"][0]["message"]["content"]
