"""One definition of a finished run, and one refusal (status, error, what to do) from every command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tunesmith.cli import _register_commands, app
from tunesmith.errors import TunesmithError
from tunesmith.runs import RunFolder, RunInfo

_register_commands()
FAILED = {"status": "failed", "error": "loss became nan at step 3 (lower training.learning_rate)"}


def refusal(*args) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert isinstance(result.exception, TunesmithError), result.output
    return str(result.exception)


def test_finished_means_completed_with_its_artifact(project, make_run):
    assert RunFolder(make_run(project, "done")).finished
    assert not RunFolder(make_run(project, "empty", artifact=False)).finished
    assert not RunFolder(make_run(project, "failed", **FAILED)).finished
    assert not RunFolder(make_run(project, "running", status="running")).finished
    (project / "runs" / "empty" / "adapter").mkdir()  # an empty folder is no model either
    assert not RunFolder(project / "runs" / "empty").finished


def test_an_old_record_without_artifact_takes_the_methods(project, make_run):
    folder = make_run(project, "old", artifact=True)
    record = json.loads((folder / "run.json").read_text())
    del record["artifact"]
    (folder / "run.json").write_text(json.dumps(record))
    assert RunFolder(folder).info().artifact == "adapter" and RunFolder(folder).finished
    record["method"] = "full"
    (folder / "run.json").write_text(json.dumps(record))
    assert not RunFolder(folder).finished  # a full fine-tune's result is model/, which is not there


def test_a_damaged_record_reads_as_missing_keys_never_raises(tmp_path):
    info = RunInfo.from_json({"status": 3, "steps": "many", "labels": "a", "metrics": [], "stopped_early": 1,
                              "trainable_params": True, "dataset_version": "v1", "future_key": {"x": 1}})
    assert (info.status, info.steps, info.labels, info.metrics, info.stopped_early) == ("3", None, None, {}, None)
    assert info.trainable_params is None and info.dataset_version == "v1" and info.to_json()["future_key"] == {"x": 1}
    folder = tmp_path / "runs" / "half"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text('{"status": "runn')  # being replaced right now
    assert RunFolder(folder).info() == RunInfo(artifact=None)


@pytest.mark.parametrize(("info", "says"), [
    (FAILED, "run r failed: loss became nan at step 3 (lower training.learning_rate); it has no model to serve. "
             "Fix the cause and train again"),
    ({"status": "running", "planned_steps": 40}, "run r is still running (planned 40 steps); it has no final model "
                                                 "to serve yet. Wait for it to finish"),
    ({"status": "interrupted", "steps": 7}, "run r was interrupted after 7 steps; it has no final model to serve. "
                                            "Finish it with `tunesmith train --resume --run runs/r`"),
    ({"status": "completed"}, "run r completed but its adapter folder is missing or empty"),
    ({"status": None}, "run r has no status in its run.json"),
])
def test_the_refusal_says_status_error_and_what_to_do(project, make_run, info, says):
    folder = make_run(project, "r", artifact=info.get("status") != "completed", **info)
    with pytest.raises(TunesmithError) as caught:
        RunFolder(folder).require_finished("serve")
    assert says in str(caught.value)


def test_every_command_refuses_a_failed_run_with_its_error(project, make_run, monkeypatch):
    from tunesmith.feedback import open_project_store, production_version, promote
    from tunesmith.project import Project
    from tunesmith.serve import build_server

    good = make_run(project, "20261201-110000-lora")
    folder = make_run(project, "20261201-120000-lora", artifact=False, **FAILED)
    error = "run 20261201-120000-lora failed: loss became nan at step 3"
    monkeypatch.chdir(project)
    assert error in refusal("eval", "latest", "--no-baselines")
    assert error in refusal("export", "20261201-120000")
    assert error in refusal("models", "promote", "runs/20261201-120000-lora", "-p", project)
    store = open_project_store(Project.load(project))
    assert production_version(store) is None
    assert error in refusal("serve", "latest")
    with pytest.raises(TunesmithError, match="failed: loss became nan"):
        build_server([folder], project=Project.load(project))
    promote(store, good)
    with pytest.raises(TunesmithError, match="failed: loss became nan"):  # served beside the production model
        build_server([folder], project=Project.load(project), production=True, store=store)
    from tunesmith.deploy import export
    from tunesmith.evaluate import compare
    from tunesmith.train import load_run

    calls = (lambda: load_run(folder), lambda: export(folder), lambda: compare(Project.load(project), {}, [folder]))
    for call in calls:
        with pytest.raises(TunesmithError, match="failed: loss became nan"):
            call()


def test_the_cli_prints_the_refusal_as_one_line(project, make_run):
    make_run(project, "20261201-120000-lora", artifact=False, **FAILED)
    result = subprocess.run([sys.executable, "-m", "tunesmith", "export", "latest", "-p", str(project)],
                            capture_output=True, text=True, timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: run 20261201-120000-lora failed: loss became nan at step 3")
    assert "train again" in lines[0]


def test_project_serving_and_the_studio_offer_only_finished_runs(project, make_run):
    from tunesmith.project import Project
    from tunesmith.serve.server import project_models
    from tunesmith.studio.context import StudioContext

    make_run(project, "20261201-100000-lora")
    make_run(project, "20261201-110000-lora", artifact=False, **FAILED)
    make_run(project, "20261201-120000-lora", artifact=False)  # completed, result folder missing
    assert [p.rsplit("/", 1)[-1] for p in project_models(Project.load(project))] == ["20261201-100000-lora"]
    assert StudioContext(project).finished_runs() == ["20261201-100000-lora"]
