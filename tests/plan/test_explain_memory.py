"""`tunesmith plan --explain-memory`: the peak's components from the one memory model, each with its lever."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from tunesmith.config import ProjectConfig

COMPONENTS = ["process baseline", "weights", "gradients + optimizer", "activations", "logits", "method buffers",
              "allocator retention"]


@pytest.fixture
def project(tiny_lm_dir, fake_calibration, monkeypatch, tmp_path):
    import tunesmith.plan as plan_package
    from tunesmith.cli import _register_commands

    monkeypatch.setattr(plan_package, "calibrate", lambda force=False: fake_calibration)
    folder = tmp_path / "proj"
    folder.mkdir()
    rows = [{"messages": [{"role": "user", "content": f"Question {i}?" + " More words." * (i % 7)},
                          {"role": "assistant", "content": f"Answer {i}." + " Detail." * (i % 5)}]} for i in range(40)]
    (folder / "chats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "tunesmith.yaml").write_text(yaml.safe_dump({
        "objective": {"task": "chat"}, "data": {"sources": [{"path": "chats.jsonl"}]},
        "model": {"name": str(tiny_lm_dir), "max_length": 64},
        "training": {"batch_size": 8, "gradient_checkpointing": False, "release_memory": False}}))
    _register_commands()
    return folder


def invoke(*args: str):
    from tunesmith.cli import app

    result = CliRunner().invoke(app, ["plan", *args], env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    return result.output


def invoke_json(*args: str) -> dict:
    shown = invoke(*args, "--json")
    return json.loads(shown[shown.index("{"):])  # after the data reading's progress line


def test_explain_memory_prints_every_component_and_its_lever(project):
    shown = invoke(str(project), "--explain-memory")
    for component in COMPONENTS:
        assert component in shown
    assert "gradient_checkpointing: true" in shown and "training.optimizer: adafactor" in shown
    assert "Where the peak memory goes" not in invoke(str(project))  # only when asked


def test_components_sum_to_the_peak_and_levers_are_the_same_model(project):
    data = invoke_json(str(project))
    rows = {row["component"]: row for row in data["memory_explained"]}
    assert list(rows) == COMPONENTS
    assert sum(row["bytes"] for row in rows.values()) == pytest.approx(data["peak_memory"], rel=1e-9)
    memory = data["estimate"]["memory"]
    assert rows["activations"]["bytes"] == pytest.approx(memory["activations"])
    assert rows["weights"]["bytes"] == memory["weights"] and rows["logits"]["bytes"] == memory["logits"]
    # the checkpointing lever quotes the peak the planner predicts for that setting
    lean = invoke_json(str(project), "--set", "training.gradient_checkpointing=true")
    assert f"(peak {lean['peak_memory'] / 1e9:.2f} GB)" in rows["activations"]["lever"]
    # and with checkpointing on, the lever back quotes the peak without it
    plain_peak = f"(peak {data['peak_memory'] / 1e9:.2f} GB)"
    assert plain_peak in {row["component"]: row for row in lean["memory_explained"]}["activations"]["lever"]


def test_bounding_the_allocator_drops_its_retention_and_only_that(project):
    kept = invoke_json(str(project))
    bounded = invoke_json(str(project), "--set", "training.release_memory=true")
    rows = {row["component"]: row["bytes"] for row in kept["memory_explained"]}
    assert "allocator retention" not in {row["component"] for row in bounded["memory_explained"]}
    assert rows["allocator retention"] == pytest.approx(0.6 * rows["activations"])  # every block's, not checkpointed
    assert bounded["peak_memory"] == pytest.approx(kept["peak_memory"] - rows["allocator retention"])


def test_full_fine_tuning_points_at_a_parameter_efficient_method(tiny_lm_dir, fake_calibration):
    from tunesmith.plan import plan

    config = ProjectConfig.model_validate({"model": {"name": str(tiny_lm_dir)}, "method": {"name": "full"}})
    result = plan(config, 16, [48] * 16, calibration=fake_calibration, advise=False)
    states = {row["component"]: row for row in result.memory_explained}["gradients + optimizer"]
    assert "method.name: lora" in states["lever"]
