"""What the pages compute, without a browser: data checks, token preview, planner estimates."""

from __future__ import annotations

import json
import re
import time

import pytest

from tunesmith.config import apply_overrides, parse_config
from tunesmith.errors import TunesmithError
from tunesmith.project import Project
from tunesmith.studio.context import StudioContext
from tunesmith.studio.data_view import check_sources, manifest_markdown, preview_pieces


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, tiny_lm_dir):
    from tunesmith.data import prepare

    root = tmp_path_factory.mktemp("pages")
    lines = [json.dumps({"messages": [{"role": "user", "content": f"Which colour is bike {name}?"},
                                      {"role": "assistant", "content": f"Bike {name} is {colour}."}]})
             for name, colour in zip("ABCDEFGHIJKL", ["red", "blue", "green", "black", "white", "pink"] * 2,
                                     strict=True)]
    lines.insert(3, json.dumps({"messages": [{"role": "user", "content": "no answer here"}]}))
    (root / "sources").mkdir()
    (root / "sources" / "bikes.jsonl").write_text("\n".join(lines) + "\n")
    project = Project.create(root, parse_config({"model": {"name": str(tiny_lm_dir), "max_length": 64},
                                                 "data": {"sources": [{"path": "sources/bikes.jsonl"}]}}))
    return project, prepare(project)


def test_check_names_the_bad_line_and_the_detected_format(prepared):
    project, _ = prepared
    result = check_sources(project)
    assert result.errors == 1
    assert [(row[0], row[1]) for row in result.issues if row[5] == "error"] == [("sources/bikes.jsonl", 4)]
    assert "format **openai**" in result.summary and "12 usable" in result.summary


def test_preview_highlights_exactly_the_answers(prepared):
    project, dataset = prepared
    pieces = preview_pieces(project, dataset, limit=2)
    learned = [text for text, tag in pieces if tag == "learned"]
    assert len(learned) == 2 and all(text.startswith("Bike ") for text in learned)
    assert not any("Which colour" in text for text, tag in pieces if tag == "learned")
    assert f"Dataset version {dataset.version}" in manifest_markdown(dataset)


def test_estimates_come_from_the_planner(prepared):
    from tunesmith.studio.pages.model import estimate_rows

    project, _ = prepared
    rows = estimate_rows(StudioContext(project.root), peers=False)
    assert len(rows) == 1
    name, memory, duration, steps, fits = rows[0]
    assert name == project.config.model.name and memory.endswith("GB") and steps > 0 and fits == "yes"
    assert re.fullmatch(r"[\d.]+ (ms|s|min|h)", duration), duration


def test_studio_presets_are_the_cli_presets(prepared, tmp_path):
    import os

    from tunesmith.config.presets import PRESETS, merge, preset_overrides
    from tunesmith.studio.pages.model import PRESET_LABELS, with_preset

    project, dataset = prepared
    assert set(PRESET_LABELS.values()) == set(PRESETS)
    for name in PRESETS:
        extra = preset_overrides(name, len(dataset.split("train")), os.cpu_count() or 1, project.config.method.name)
        expected = parse_config(merge(project.config.model_dump(mode="json"), extra))
        assert with_preset(StudioContext(project.root), project.config, name) == expected
    with pytest.raises(TunesmithError, match="Prepare a dataset"):
        with_preset(StudioContext(tmp_path), project.config, "quick")


def _wait(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_training_runs_in_the_background_stops_and_resumes(prepared):
    from tunesmith.studio import jobs
    from tunesmith.studio.context import read_json
    from tunesmith.studio.pages.train import start_training
    from tunesmith.studio.run_view import read_metrics, run_row

    project, dataset = prepared
    Project(project.root, apply_overrides(project.config, [
        "training.epochs=20", "training.max_steps=30", "training.batch_size=2", "training.eval_every=100"])).save()
    ctx = StudioContext(project.root)
    job = start_training(ctx, dataset.version)
    try:
        run_dir = _wait(lambda: next((r for r in ctx.run_dirs() if any(m.get("step", 0) >= 2
                                                                         for m in read_metrics(r))), None),
                        180, "two training steps")
        with pytest.raises(TunesmithError, match="already going"):
            start_training(ctx, dataset.version)
        jobs.stop_job(job)
        stopped_at = read_json(run_dir / "run.json")
        assert stopped_at["status"] == "interrupted" and run_row(run_dir, training_alive=False)[1] == "interrupted"
        assert stopped_at["steps"] < 30

        resumed = start_training(ctx, dataset.version, resume=run_dir.name)
        _wait(lambda: not resumed.alive, 300, "the resumed run to finish")
    finally:
        for running in jobs.running_jobs(ctx.root, "train"):
            jobs.stop_job(running)
    finished = read_json(run_dir / "run.json")
    assert finished["status"] == "completed" and finished["steps"] == 30, resumed.log_tail()
    assert ctx.run_dirs() == [run_dir] and ctx.finished_runs() == [run_dir.name]


def test_playground_labels_text_with_a_classifier_run(tmp_path, tiny_encoder_dir):
    from tunesmith.data import prepare
    from tunesmith.studio import playground
    from tunesmith.train import train

    rows = [{"text": f"{word} {n}", "label": label} for n in range(6)
            for word, label in (("refund please", "billing"), ("app crashes", "bug"), ("love it", "praise"))]
    (tmp_path / "tickets.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    project = Project.create(tmp_path, parse_config({
        "objective": {"task": "classification"}, "model": {"name": str(tiny_encoder_dir), "max_length": 32},
        "data": {"sources": [{"path": "tickets.jsonl"}]}, "training": {"max_steps": 2, "batch_size": 4}}))
    run_dir = train(project, prepare(project)).run_dir
    answer = playground.classify(playground.run_model(run_dir), "refund please 9", 32)
    assert re.fullmatch(r"\*\*(billing|bug|praise)\*\* \(\d+%\), then (billing|bug|praise) \(\d+%\)", answer), answer


def test_the_settings_panel_saves_only_the_choices(tmp_path, tiny_lm_dir):
    import yaml

    from tunesmith.config import PROJECT_FILE, load_config
    from tunesmith.studio import schema_form
    from tunesmith.studio.pages.model import save_settings

    project = Project.create(tmp_path, parse_config({"name": "bikes", "model": {"name": str(tiny_lm_dir)}}))
    specs = schema_form.schema_fields()
    values = schema_form.values_for(project.config, specs)  # the panel shows every setting, filled in
    values[[spec.path for spec in specs].index("training.epochs")] = 7
    saved = save_settings(StudioContext(project.root), specs, values)
    written = yaml.safe_load((tmp_path / PROJECT_FILE).read_text())
    assert written == {"name": "bikes", "model": {"name": str(tiny_lm_dir)}, "training": {"epochs": 7}}, written
    assert load_config(tmp_path) == saved.config and saved.config.training.epochs == 7
