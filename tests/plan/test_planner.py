"""plan(): consistent predictions, recommendations that fit, GPU targets, the CLI, run records."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from tunesmith.config import ProjectConfig
from tunesmith.config.method import switch_method
from tunesmith.errors import TunesmithError
from tunesmith.plan import plan, predict_for_run, predicted_vs_actual, write_prediction
from tunesmith.plan.targets import parse_target

LENGTHS = [40 + (i * 37) % 200 for i in range(64)]


def config_for(model_dir, **training) -> ProjectConfig:
    return ProjectConfig.model_validate({"model": {"name": str(model_dir), "max_length": 256},
                                         "training": {"batch_size": 8, "epochs": 2, **training}})


def chat_records(n: int) -> list[dict]:
    return [{"id": f"c{i}", "messages": [{"role": "user", "content": f"Question {i}?" + " More." * (i % 5)},
                                         {"role": "assistant", "content": f"Answer {i}."}]} for i in range(n)]


def test_larger_batches_and_longer_sequences_need_more_memory(tiny_lm_dir, fake_calibration):
    small = plan(config_for(tiny_lm_dir, batch_size=2), 64, LENGTHS, calibration=fake_calibration, advise=False)
    large = plan(config_for(tiny_lm_dir, batch_size=16), 64, LENGTHS, calibration=fake_calibration, advise=False)
    assert large.estimate.peak_memory > small.estimate.peak_memory
    longer = plan(config_for(tiny_lm_dir), 64, [n * 2 for n in LENGTHS], calibration=fake_calibration, advise=False)
    base = plan(config_for(tiny_lm_dir), 64, LENGTHS, calibration=fake_calibration, advise=False)
    assert longer.estimate.seconds_per_epoch > base.estimate.seconds_per_epoch
    assert base.estimate.steps_per_epoch == 8 and base.total_steps == 16
    assert base.total_seconds == pytest.approx(16 * base.estimate.seconds_per_step)


def test_checkpointing_trades_time_for_memory(tiny_lm_dir, fake_calibration):
    plain = plan(config_for(tiny_lm_dir, gradient_checkpointing=False), 64, LENGTHS, calibration=fake_calibration,
                 advise=False)
    saved = plan(config_for(tiny_lm_dir, gradient_checkpointing=True), 64, LENGTHS, calibration=fake_calibration,
                 advise=False)
    assert saved.estimate.memory["activations"] < plain.estimate.memory["activations"]
    assert saved.estimate.seconds_per_epoch > plain.estimate.seconds_per_epoch


def test_sampled_lengths_scale_to_the_whole_dataset(tiny_lm_dir, fake_calibration):
    sample = plan(config_for(tiny_lm_dir), 640, LENGTHS, calibration=fake_calibration, advise=False)
    whole = plan(config_for(tiny_lm_dir), 640, LENGTHS * 10, calibration=fake_calibration, advise=False)
    assert sample.estimate.seconds_per_epoch == pytest.approx(whole.estimate.seconds_per_epoch, rel=0.02)
    assert sample.estimate.steps_per_epoch == whole.estimate.steps_per_epoch == 80


def test_recommendations_fit_and_keep_the_effective_batch(tiny_lm_dir, fake_calibration, monkeypatch):
    from tunesmith.plan import planner

    config = config_for(tiny_lm_dir, batch_size=16, gradient_accumulation=2)
    roomy = plan(config, 64, LENGTHS, calibration=fake_calibration)
    monkeypatch.setattr(planner, "available_memory", lambda target: roomy.estimate.peak_memory * 0.9)
    tight = plan(config, 64, LENGTHS, calibration=fake_calibration)
    assert not tight.fits
    assert tight.recommendations, "smaller micro-batches with accumulation should fit"
    for estimate in tight.recommendations:
        assert estimate.fits(tight.available_memory)
        assert estimate.setting.batch_size * estimate.setting.gradient_accumulation == 32
    assert [item["model"] for item in tight.larger_models]  # every bigger reference model gets advice


def test_gpu_target_and_cost(tiny_lm_dir):
    result = plan(config_for(tiny_lm_dir), 64, LENGTHS, target="a100x2", price_per_hour=2.5, advise=False)
    assert result.target == "a100" and result.devices == 2
    assert result.cost == pytest.approx(result.total_seconds / 3600 * 2.5)
    one = plan(config_for(tiny_lm_dir), 64, LENGTHS, target="a100", advise=False)
    assert one.estimate.seconds_per_epoch == pytest.approx(2 * result.estimate.seconds_per_epoch)
    assert parse_target("H100x8").count == 8
    with pytest.raises(TunesmithError, match="unknown target"):
        parse_target("abacus")
    with pytest.raises(TunesmithError):
        plan(config_for(tiny_lm_dir), 0, [], calibration=None, advise=False)


def test_predict_for_run_and_predicted_vs_actual(tiny_lm_dir, fake_calibration, monkeypatch, tmp_path):
    import tunesmith.plan.planner as planner

    monkeypatch.setattr(planner, "calibrate", lambda: fake_calibration)
    config = config_for(tiny_lm_dir)
    prediction = predict_for_run(config, chat_records(20))
    assert prediction["steps_per_epoch"] == 3 and prediction["total_steps"] == 6
    assert prediction["trainable_params"] > 0 and prediction["peak_memory"] > 5e8
    write_prediction(tmp_path, prediction)
    assert json.loads((tmp_path / "plan.json").read_text())["total_steps"] == 6
    run = {"steps": 6, "seconds": 6 * prediction["seconds_per_step"] * 2, "trainable_params":
           prediction["trainable_params"]}
    rows = {r["quantity"]: r for r in predicted_vs_actual(prediction, run)}
    assert rows["seconds per step"]["error"] == pytest.approx(-0.5)
    assert rows["trainable parameters"]["error"] == 0


def test_plan_command(tiny_lm_dir, fake_calibration, monkeypatch, tmp_path):
    import tunesmith.plan as plan_package
    from tunesmith.cli import _register_commands, app

    monkeypatch.setattr(plan_package, "calibrate", lambda force=False: fake_calibration)
    project = tmp_path / "proj"
    project.mkdir()
    (project / "chats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chat_records(30)))
    (project / "tunesmith.yaml").write_text(yaml.safe_dump({
        "objective": {"task": "chat"}, "data": {"sources": [{"path": "chats.jsonl"}]},
        "model": {"name": str(tiny_lm_dir), "max_length": 64}}))
    _register_commands()
    shown = CliRunner().invoke(app, ["plan", str(project), "--price-per-hour", "1.5"])
    assert shown.exit_code == 0, shown.output
    assert "peak memory" in shown.output and "time per epoch" in shown.output and "cost" in shown.output
    as_json = CliRunner().invoke(app, ["plan", str(project), "--target", "t4x2", "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["target"] == "t4" and data["devices"] == 2 and data["fits"] is True


def test_recommends_a_leaner_method_only_when_the_chosen_one_cannot_fit(tiny_lm_dir, fake_calibration, monkeypatch):
    from tunesmith.plan import planner

    full = ProjectConfig.model_validate({"model": {"name": str(tiny_lm_dir), "max_length": 256},
                                         "method": {"name": "full"}, "training": {"batch_size": 1}})
    roomy = plan(full, 64, LENGTHS, calibration=fake_calibration)
    assert {e.setting.method for e in roomy.recommendations} == {"full"}
    lora = plan(full.model_copy(update={"method": switch_method(full.method, "lora")}), 64, LENGTHS,
                calibration=fake_calibration, advise=False)
    monkeypatch.setattr(planner, "available_memory", lambda target: (lora.estimate.peak_memory + 1e6) / 0.85)
    tight = plan(full, 64, LENGTHS, calibration=fake_calibration)
    assert not tight.fits and tight.recommendations
    assert {e.setting.method for e in tight.recommendations} == {"lora"}


@pytest.mark.parametrize(("native", "precision", "expected"), [
    (True, "no", "computes bfloat16 natively"), (False, "no", None), (True, "bf16", "these times are float32's"),
    (False, "bf16", "these times are float32's")])
def test_plan_says_what_bf16_would_do_here(tiny_lm_dir, fake_calibration, monkeypatch, native, precision, expected):
    import tunesmith.train.sharding as sharding

    monkeypatch.setattr(sharding, "native_bf16", lambda device: native)
    result = plan(config_for(tiny_lm_dir, mixed_precision=precision), 64, LENGTHS, calibration=fake_calibration,
                  advise=False)
    said = [note for note in result.notes if "bfloat16" in note or "bf16" in note]
    assert [expected in note for note in said] == ([True] if expected else [])
