"""The `runs`, `reproduce` and `tune` commands on a real tiny run."""

from __future__ import annotations

import json
import shutil

import yaml
from typer.testing import CliRunner

from tunesmith.cli import _register_commands, app
from tunesmith.plan.calibrate import Calibration
from tunesmith.plan.speed import Rates

_register_commands()


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def second_run(folder, run_id: str, learning_rate: float) -> str:
    """A copy of the run with another learning rate and shifted losses, to compare against."""
    other = folder / "runs" / f"{run_id}-b"
    shutil.copytree(folder / "runs" / run_id, other)
    config = yaml.safe_load((other / "config.yaml").read_text())
    config["training"]["learning_rate"] = learning_rate
    (other / "config.yaml").write_text(yaml.safe_dump(config))
    rows = [json.loads(line) for line in (other / "metrics.jsonl").read_text().splitlines()]
    shifted = [{k: (v - 0.5 if k.endswith("loss") else v) for k, v in row.items()} for row in rows]
    (other / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in shifted))
    return other.name


def test_list_show_compare_delete(project_copy, monkeypatch):
    folder, run_id = project_copy
    listed = invoke("runs", "list", "-p", str(folder))
    assert run_id[:10] in listed and "lora" in listed
    shown = invoke("runs", "show", run_id, "-p", str(folder), "--no-predict")
    assert "val_loss" in shown and "no plan.json" in shown

    rates = Rates(matmul_flops=1e11, logit_seconds=9e-9, head_seconds=4e-11, elementwise_seconds=8e-10)
    monkeypatch.setattr("tunesmith.plan.planner.calibrate", lambda: Calibration(rates, 5e8, {}))
    predicted = invoke("runs", "show", run_id, "-p", str(folder))
    assert "predicted vs actual" in predicted and "seconds per step" in predicted
    plan = json.loads((folder / "runs" / run_id / "plan.json").read_text())
    assert plan["total_steps"] == 6 and plan["predicted_after_training"] is True

    other = second_run(folder, run_id, 1e-3)
    compared = invoke("runs", "compare", run_id, other, "-p", str(folder), "-o", str(folder / "c.png"))
    assert "training.learning_rate" in compared and "method.r" not in compared
    assert (folder / "c.png").stat().st_size > 5000
    invoke("runs", "delete", other, "-p", str(folder), "--yes")
    assert not (folder / "runs" / other).exists()
    missing = CliRunner().invoke(app, ["runs", "show", "nope", "-p", str(folder)])
    assert missing.exit_code != 0 and "no run 'nope'" in str(missing.exception)


def test_export_then_reproduce_from_the_archive(project_copy):
    folder, run_id = project_copy
    exported = invoke("runs", "export", run_id, "-p", str(folder), "-o", str(folder.parent / "run.tar.gz"))
    assert "run.tar.gz" in exported
    reproduced = invoke("reproduce", str(folder.parent / "run.tar.gz"))
    assert "identical metrics" in reproduced
    assert (folder.parent / "run-reproduce" / "runs" / run_id).exists()


def test_tune_command(project_copy):
    folder, _ = project_copy
    config = yaml.safe_load((folder / "tunesmith.yaml").read_text())
    config["tune"] = {"search_space": {"training.learning_rate": {"low": 1e-4, "high": 1e-1, "log": True},
                                       "method.r": {"choices": [2, 4]}, "method.num_virtual_tokens": {
                                           "choices": [4, 8]}}}
    (folder / "tunesmith.yaml").write_text(yaml.safe_dump(config))
    output = invoke("tune", str(folder), "--trials", "2", "--set", "tune.max_steps_per_trial=2")
    assert "best val_loss" in output and "best.yaml" in output
    best = yaml.safe_load((folder / "tune" / "best.yaml").read_text())
    assert best["method"]["r"] in (2, 4) and best["method"]["alpha"] == 2 * best["method"]["r"]
