"""Progress that tells the truth: an ETA that counts validation and saving, and one overfitting rule
(validation loss risen N evaluations in a row while training loss fell) for the live warning and the report."""

import json
from types import SimpleNamespace

import pytest
from train_helpers import chat_records, tiny_config

from tunesmith.evaluate.diagnostics import overfitting_verdict, read_loss_curve
from tunesmith.train.loop import LoopState, check_overfitting
from tunesmith.train.monitor import ProgressBar, eta_seconds, pauses_left


def test_pauses_left_counts_every_validation_and_the_last_step():
    assert pauses_left(0, 20, 5) == 4  # 5, 10, 15, 20
    assert pauses_left(10, 20, 5) == 2
    assert pauses_left(0, 22, 5) == 5  # 5, 10, 15, 20 and the last step, 22
    assert pauses_left(20, 20, 5) == 0


def test_eta_includes_measured_validation_and_checkpoint_time():
    # fake costs: 1 s per training step, 10 s per validation + checkpoint
    seconds, unmeasured = eta_seconds(step=10, total=20, eval_every=5, train_seconds=10.0, pause_seconds=20.0,
                                      pauses=2)
    assert seconds == pytest.approx(10 * 1.0 + 2 * 10.0) and not unmeasured
    # before the first validation its cost is unknown: the estimate says so rather than pretend
    seconds, unmeasured = eta_seconds(step=3, total=20, eval_every=5, train_seconds=3.0, pause_seconds=0.0, pauses=0)
    assert seconds == pytest.approx(17.0) and unmeasured


def test_validation_line_shows_the_eta_with_pauses(capsys):
    bar = ProgressBar(total_steps=20, done=10, eval_every=5)
    state = SimpleNamespace(step=10, seconds=10.0, pause_seconds=1180.0, pauses=2, tokens=1000)
    bar.validated(state, {"val_loss": 1.0}, train_loss=1.2)
    bar.close()
    line = capsys.readouterr().err
    assert "ETA 19.8 min" in line  # 10 s of steps + 2 × 590 s of validation and saving; not "ETA 0.2 min"


def _loop_warnings(train: list[float], val: list[float], patience: int) -> list[str]:
    state, warnings = LoopState(), []
    for i, (t, v) in enumerate(zip(train, val, strict=True)):
        state.step = (i + 1) * 10
        warning = check_overfitting(state, t, v, patience)
        warnings += [warning] if warning else []
    return warnings


def _curves(train: list[float], val: list[float]) -> dict:
    # as metrics.jsonl gives them: several training steps per validation
    steps = [(i + 1) * 10 for i in range(len(val))]
    return {"train": [(s - 5, t + 0.1) for s, t in zip(steps, train, strict=True)]
            + [(s, t - 0.1) for s, t in zip(steps, train, strict=True)],
            "validation": list(zip(steps, val, strict=True))}


CASES = {  # name: (train loss per validation, validation loss, overfitting under patience 2)
    "validation still falling, slower than train": ([2.0, 1.0, 0.5, 0.2], [2.2, 2.0, 1.95, 1.9], False),
    "one rise is noise": ([2.0, 1.0, 0.5, 0.2], [2.2, 2.0, 2.1, 2.05], False),
    "rose twice while train fell": ([2.0, 1.0, 0.5, 0.2], [2.2, 1.8, 1.9, 2.0], True),
    "rose twice while train rose too": ([1.0, 1.1, 1.2, 1.3], [2.2, 1.8, 1.9, 2.0], False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_live_warning_and_report_verdict_follow_one_rule(name):
    train, val, overfits = CASES[name]
    warnings = _loop_warnings(train, val, patience=2)
    verdict = overfitting_verdict(_curves(train, val), patience=2)
    assert bool(warnings) == overfits == verdict.startswith("Overfitting"), (warnings, verdict)
    assert len(warnings) <= 1
    if overfits:
        assert "rose 2 evaluations in a row" in warnings[0] and "rose 2 evaluations in a row" in verdict


def test_patience_is_the_configured_number_of_rises():
    train, val = [2.0, 1.0, 0.5, 0.2], [2.2, 1.8, 1.9, 2.0]
    assert _loop_warnings(train, val, patience=3) == []
    assert not overfitting_verdict(_curves(train, val), patience=3).startswith("Overfitting")
    assert overfitting_verdict(_curves(train, val)).startswith("Overfitting")  # the schema default, 2


def test_a_real_run_warns_exactly_when_its_report_says_overfitting(tiny_lm_dir, tmp_path):
    from tunesmith.train import run_training

    config = tiny_config(tiny_lm_dir, epochs=30, max_steps=8, eval_every=2, learning_rate=5e-2, batch_size=4,
                         overfit_patience=1, early_stopping_patience=None)
    run_training(config, chat_records(8), chat_records(4, seed=3), tmp_path / "run")
    warnings = json.loads((tmp_path / "run" / "run.json").read_text()).get("warnings", [])
    verdict = overfitting_verdict(read_loss_curve(tmp_path / "run"), patience=1)
    assert any("overfitting" in w for w in warnings) == verdict.startswith("Overfitting"), (warnings, verdict)
    # the metrics rows (the studio's ETA) count the validations still to come, not only the steps
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    after_first_validation = next(r for r in rows if r.get("split") == "train" and r["step"] == 3)
    steps_only = after_first_validation["elapsed"] / 3 * (8 - 3)
    assert after_first_validation["eta_s"] > steps_only


def test_the_report_judges_a_run_by_its_own_patience(tmp_path):
    from tunesmith.evaluate.overfitting import run_patience

    (tmp_path / "config.yaml").write_text("schema_version: 1\ntraining:\n  overfit_patience: 4\n")
    assert run_patience(tmp_path) == 4
    assert run_patience(tmp_path / "missing") == 2  # the schema default
