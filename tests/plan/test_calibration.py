"""The cached calibration: where it lives in tests, when it is measured again, and the check against a run's
first steps (fake clocks and fake measurements; nothing here times the machine)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tunesmith.plan.calibrate import (
    DISAGREEMENT,
    KEPT_CHECKS,
    MAX_AGE_DAYS,
    Calibration,
    cached_calibration,
    calibrate,
    calibration_path,
    machine_key,
    record_check,
)
from tunesmith.plan.watch import CHECKED_STEPS, FirstSteps

calibration_module = importlib.import_module("tunesmith.plan.calibrate")  # `plan.calibrate` is also a function
DAY = 86400.0
NOW = 1_800_000_000.0


@pytest.fixture
def measurements(monkeypatch, fake_calibration):
    """Replaces the ~20 s measurement: each call returns a new calibration and is counted with its reason."""
    reasons = []

    def measure(reason=None):
        reasons.append(reason)
        return replace(fake_calibration, machine=machine_key(), measured_at=NOW, checks=())

    monkeypatch.setattr(calibration_module, "measure", measure)
    return reasons


def cache(path: Path, calibration: Calibration) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(calibration.to_json()))
    return path


def test_tests_run_in_a_temporary_home_that_subprocesses_share(temporary_home):
    from tunesmith.models.convert import cache_root

    assert Path.home() == temporary_home
    assert calibration_path() == temporary_home / ".cache" / "tunesmith" / "calibration.json"
    assert cache_root().is_relative_to(temporary_home)
    child = subprocess.run([sys.executable, "-c", "from tunesmith.plan.calibrate import calibration_path; "
                            "print(calibration_path())"], capture_output=True, text=True, check=True, env=os.environ)
    assert Path(child.stdout.strip()) == calibration_path()


def test_only_finished_conversions_are_shared_into_the_temporary_home(tmp_path, share_models):
    from tunesmith.models.convert import MARKER

    user, home = tmp_path / "user-models", tmp_path / "home-models"
    for folder, done in [("smollm2", MARKER), ("half-written", None), (".smollm2-staging", MARKER),
                         ("tokenizers/smollm2", "tokenizer.json"), ("tokenizers/partial", None)]:
        (user / folder).mkdir(parents=True)
        if done:
            (user / folder / done).write_text("{}")
    share_models(user, home)
    linked = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_symlink())
    assert linked == ["smollm2", "tokenizers/smollm2"]
    assert (home / "smollm2").resolve() == (user / "smollm2").resolve()


def test_a_recent_calibration_of_this_machine_is_reused(tmp_path, fake_calibration, measurements):
    cached = replace(fake_calibration, machine=machine_key(), measured_at=NOW - (MAX_AGE_DAYS - 1) * DAY)
    path = cache(tmp_path / "calibration.json", cached)
    assert calibrate(path=path, now=NOW) == cached
    assert measurements == []


@pytest.mark.parametrize("change, reason", [
    ({"measured_at": NOW - (MAX_AGE_DAYS + 1) * DAY}, "days old"),
    ({"machine": {"cpu": "another"}}, "changed"),
    ({"measured_at": 0.0}, "days old"),  # written before calibrations had a date
])
def test_an_old_or_foreign_calibration_is_measured_again(tmp_path, fake_calibration, measurements, change, reason):
    cached = replace(fake_calibration, **{"machine": machine_key(), "measured_at": NOW, **change})
    path = cache(tmp_path / "calibration.json", cached)
    fresh = calibrate(path=path, now=NOW)
    assert len(measurements) == 1 and reason in measurements[0]
    assert cached_calibration(path) == fresh != cached


def test_a_missing_or_unreadable_file_is_measured(tmp_path, measurements):
    assert calibrate(path=tmp_path / "none.json", now=NOW).measured_at == NOW
    (tmp_path / "broken.json").write_text('{"rates": ')
    calibrate(path=tmp_path / "broken.json", now=NOW)
    assert measurements == ["none is cached", "none is cached"]


@pytest.mark.parametrize("measured, remeasured", [(1.0, False), (DISAGREEMENT * 0.95, False),
                                                  (DISAGREEMENT * 1.05, True), (1 / (DISAGREEMENT * 1.05), True)])
def test_a_run_whose_first_steps_disagree_gets_the_machine_measured_again(tmp_path, fake_calibration, measurements,
                                                                         measured, remeasured):
    path = cache(tmp_path / "calibration.json", replace(fake_calibration, machine=machine_key(), measured_at=NOW))
    record_check(predicted=1.0, measured=measured, path=path, now=NOW + 60)
    assert cached_calibration(path).checks[-1] == {"at": NOW + 60, "predicted": 1.0, "measured": measured}
    again = calibrate(path=path, now=NOW + 120)
    assert (measurements != []) == remeasured
    if remeasured:
        assert "first steps" in measurements[0] and again.checks == ()  # a new calibration starts clean


def test_only_the_newest_checks_are_kept_and_nothing_is_recorded_without_a_calibration(tmp_path, fake_calibration):
    path = cache(tmp_path / "calibration.json", replace(fake_calibration, measured_at=NOW))
    for i in range(KEPT_CHECKS + 2):
        record_check(1.0, 1.0 + i / 100, path, now=NOW + i)
    assert [c["at"] for c in cached_calibration(path).checks] == [NOW + i for i in range(2, KEPT_CHECKS + 2)]
    assert record_check(1.0, 2.0, tmp_path / "missing.json") is None and not (tmp_path / "missing.json").exists()


def test_first_steps_are_timed_in_cpu_seconds_leaving_out_the_first_and_those_after_validation():
    ticks = iter([0.0, 10.0, 11.0, 13.0, 16.0, 20.0, 25.0, 31.0, 40.0])  # step s ends at tick s-1
    recorded = []
    watch = FirstSteps(predicted=[9.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], eval_every=3,
                       record=lambda p, m: recorded.append((p, m)), clock=lambda: next(ticks))
    for step in range(1, 10):
        watch({"step": step})
    # step 1 (one-off costs) and steps 4 and 7 (after a validation at steps 3 and 6) are not counted
    checked = [2, 3, 5, 6][:CHECKED_STEPS]
    durations = {2: 10.0, 3: 1.0, 4: 2.0, 5: 3.0, 6: 4.0, 7: 5.0, 8: 6.0, 9: 9.0}
    assert recorded == [(sum(float(s - 1) for s in checked), sum(durations[s] for s in checked))]


def test_a_run_records_its_first_steps_beside_a_cached_calibration(tiny_lm_dir, tmp_path, monkeypatch,
                                                                   fake_calibration):
    from tunesmith.config import parse_config
    from tunesmith.train import run_training

    monkeypatch.setenv("TUNESMITH_CACHE", str(tmp_path / "cache"))
    chats = [{"id": f"c{i}", "messages": [{"role": "user", "content": f"question {i}" * (i + 1)},
                                          {"role": "assistant", "content": f"answer {i}"}]} for i in range(12)]
    config = parse_config({"model": {"name": str(tiny_lm_dir), "max_length": 64},
                           "method": {"name": "lora", "r": 2, "alpha": 4},
                           "training": {"max_steps": CHECKED_STEPS + 2, "batch_size": 2, "eval_every": 100,
                                        "num_threads": 1}})
    run_training(config, chats, chats[:2], tmp_path / "without")
    assert not calibration_path().exists()  # a run never measures the machine, nor writes a calibration
    cache(calibration_path(), replace(fake_calibration, measured_at=NOW))
    run_training(config, chats, chats[:2], tmp_path / "with")
    [check] = cached_calibration(calibration_path()).checks
    assert check["predicted"] > 0 and check["measured"] > 0


def test_no_check_without_a_calibration_or_for_a_model_the_planner_cannot_describe(tiny_lm_dir, tmp_path,
                                                                                 monkeypatch, fake_calibration):
    from tunesmith.config import parse_config
    from tunesmith.errors import TunesmithError
    from tunesmith.plan import shapes
    from tunesmith.plan.watch import first_steps_check
    from tunesmith.train.batching import Step
    from tunesmith.train.encode import Example

    config = parse_config({"model": {"name": str(tiny_lm_dir)}})
    examples = [Example([1] * 8, targets=3), Example([1] * 6, targets=2)]
    steps = [Step(micro_batches=[[0, 1]], global_targets=5, real_tokens=14)] * 3
    path = tmp_path / "calibration.json"
    assert first_steps_check(config, examples, steps, path=path) is None  # nothing cached: nothing measured
    cache(path, replace(fake_calibration, measured_at=NOW))
    assert isinstance(first_steps_check(config, examples, steps, path=path), FirstSteps)
    bounded = config.model_copy(update={"training": config.training.model_copy(update={"release_memory": True})})
    assert first_steps_check(bounded, examples, steps, path=path) is None  # its page faults are not modelled

    def undescribable(name):
        raise TunesmithError("the model's config.json has no hidden_size/num_hidden_layers")

    monkeypatch.setattr(shapes, "model_shape", undescribable)
    assert first_steps_check(config, examples, steps, path=path) is None
