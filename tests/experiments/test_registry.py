"""Run records: finding, listing, comparing and deleting runs."""

from __future__ import annotations

import json

import pytest
import yaml

from tunesmith.errors import TunesmithError
from tunesmith.experiments import delete_run, differing_settings, find_run, list_runs, load_record, plot_loss_curves
from tunesmith.experiments.compare import flatten
from tunesmith.experiments.table import LIST_COLUMNS, list_row


def fake_run(runs, name: str, lr: float, losses: list[float], status: str = "completed"):
    folder = runs / name
    folder.mkdir(parents=True)
    config = {"method": {"name": "lora", "r": 8}, "training": {"learning_rate": lr, "batch_size": 4, "epochs": 1.0},
              "serve": {"port": 8000 + len(losses)}}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    rows = [{"split": "train", "step": i + 1, "train_loss": v} for i, v in enumerate(losses)]
    rows.append({"split": "validation", "step": len(losses), "val_loss": losses[-1] + 0.1})
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "run.json").write_text(json.dumps({"status": status, "method": "lora", "dataset_version": "abc",
                                                 "steps": len(losses), "seconds": 3.0,
                                                 "metrics": {"train_loss": losses[-1], "val_loss": losses[-1] + 0.1}}))
    return folder


def test_find_list_and_delete(tmp_path):
    runs = tmp_path / "runs"
    fake_run(runs, "20261129-100000-lora", 1e-4, [3.0, 2.0])
    fake_run(runs, "20261129-110000-lora", 1e-3, [3.0, 1.5])
    (runs / "not-a-run").mkdir()
    assert [r.run_id for r in list_runs(runs)] == ["20261129-100000-lora", "20261129-110000-lora"]
    assert find_run(runs, "latest").name == "20261129-110000-lora"
    assert find_run(runs, "20261129-10").name == "20261129-100000-lora"
    with pytest.raises(TunesmithError, match="matches 2 runs"):
        find_run(runs, "lora")
    with pytest.raises(TunesmithError, match="no run"):
        find_run(runs, "nope")
    delete_run(runs, "20261129-10")
    assert [r.run_id for r in list_runs(runs)] == ["20261129-110000-lora"]
    with pytest.raises(TunesmithError):
        delete_run(runs, tmp_path)  # a folder outside runs/ is never deleted


def test_compare_lists_only_differing_settings_and_plots_curves(tmp_path):
    runs = tmp_path / "runs"
    records = [load_record(fake_run(runs, f"run-{i}", lr, losses))
               for i, (lr, losses) in enumerate([(1e-4, [3.0, 2.0]), (1e-3, [3.0, 1.5, 1.2])])]
    differing = differing_settings(records)
    assert differing == {"training.learning_rate": [1e-4, 1e-3]}  # serve.port differs but is not a training setting
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": {}}) == {"a.b": 1, "a.c": [1, 2], "d": {}}
    assert records[1].curves()["train_loss"] == [(1, 3.0), (2, 1.5), (3, 1.2)]
    png = plot_loss_curves(records, tmp_path / "out" / "curves.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    row = list_row(records[0])
    assert len(row) == len(LIST_COLUMNS) and row[0] == "run-0" and "lr 0.0001" in row[4] and row[5] == "2 / 2.1"
