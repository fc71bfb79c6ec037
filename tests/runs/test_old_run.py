"""A run folder written by an older tunesmith (tests/fixtures/old_project, main at 3a8d5b3) still loads,
evaluates, exports and serves: the run contract reads what earlier versions wrote."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tunesmith.cli import _register_commands, app
from tunesmith.runs import RunFolder, resolve_run

_register_commands()
RUN_ID = "20261206-152322-lora"


def invoke(*args) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_old_run_reads_as_a_finished_run_of_its_project(old_project):
    folder = resolve_run("latest")
    assert folder.path == old_project / "runs" / RUN_ID
    info = folder.info()
    assert info.finished and (info.method, info.task, info.artifact, info.base_model) == ("lora", "chat", "adapter",
                                                                                         "base")
    assert folder.project_root == old_project and folder.dataset_dir == old_project / "data" / info.dataset_version
    assert folder.config().method.r == 2 and len(folder.metric_rows()) == 4


def test_the_old_run_loads_evaluates_and_exports(old_project):
    from tunesmith.train import load_run

    run = load_run(old_project / "runs" / RUN_ID)
    assert run.task == "chat" and run.info.dataset_version == "22e2889a64fe"
    invoke("eval", "latest", "--no-baselines")
    report = json.loads((RunFolder(old_project / "runs" / RUN_ID).eval_dir / "report.json").read_text())
    assert [c["name"] for c in report["contenders"]] == [RUN_ID] and report["n_items"] == 4
    assert "Evaluation" in (old_project / "runs" / RUN_ID / "README.md").read_text()
    assert "parity passed" in invoke("export", RUN_ID[:8], "--format", "adapter")
    parity = json.loads((old_project / "exports" / f"{RUN_ID}-adapter" / "parity.json").read_text())
    assert parity["passed"] and parity["prompt_source"] == "22e2889a64fe/test"  # its own held-out prompts


def test_the_old_run_serves(old_project):
    from tunesmith.project import Project
    from tunesmith.serve import build_server

    server = build_server(project=Project.load(old_project))  # every finished run of the project
    assert RUN_ID in server.models
    with TestClient(server.app) as client:
        reply = client.post("/v1/chat/completions", json={
            "model": RUN_ID, "max_tokens": 4, "messages": [{"role": "user", "content": "What colour is parcel 3?"}]})
    assert reply.status_code == 200, reply.text
    assert reply.json()["model"] == RUN_ID and reply.json()["usage"]["completion_tokens"] >= 1
    named = build_server(["latest"], project=Project.load(old_project))  # serve takes run names too
    assert named.models[0] == RUN_ID
