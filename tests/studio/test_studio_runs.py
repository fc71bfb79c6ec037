"""Reading run folders while training writes them, and telling live jobs from dead ones."""

from __future__ import annotations

import json
import os
import time

from tunesmith.studio import jobs
from tunesmith.studio.run_view import OUTSIDE_RUN_QUIET_SECONDS, loss_points, read_metrics, run_row, run_status


def _write_run(folder, status, lines):
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"status": status}))
    (folder / "metrics.jsonl").write_text("\n".join(lines))


def test_metrics_reader_keeps_both_curves_and_skips_a_half_written_line(tmp_path):
    run = tmp_path / "runs" / "r1"
    _write_run(run, "running", [
        json.dumps({"step": 1, "loss": 2.5, "tokens_per_s": 100.0, "eta_s": 75}),
        json.dumps({"step": 2, "loss": 2.0}),
        json.dumps({"step": 2, "split": "validation", "loss": 2.2}),
        '{"step": 3, "lo',
    ])
    points = loss_points(read_metrics(run))
    assert list(points[points.split == "train"].loss) == [2.5, 2.0]
    assert list(points[points.split == "validation"].loss) == [2.2]
    row = run_row(run, training_alive=True)
    assert row[:5] == ["r1", "running", 2, 2.0, 2.2]
    assert row[5] == 100.0 and row[6] == "1 min 15 s"


def test_a_running_run_without_a_live_process_shows_as_stopped_once_it_goes_quiet(tmp_path):
    run = tmp_path / "runs" / "r2"
    _write_run(run, "running", [json.dumps({"step": 1, "train_loss": 1.0, "eval_loss": 1.5})])
    assert run_row(run, training_alive=True)[1] == "running"
    assert run_status(run, training_alive=False) == "running (outside the studio)"
    assert run_status(run, training_alive=False, now=time.time() + OUTSIDE_RUN_QUIET_SECONDS + 1) == "stopped"
    assert loss_points(read_metrics(run)).split.tolist() == ["train", "validation"]


def test_only_studio_runner_processes_count_as_jobs():
    assert not jobs.is_alive(os.getpid())  # a live process, but not one of ours
    assert not jobs.is_alive(2**22 + 12345)


def test_only_the_latest_finished_job_records_are_kept(tmp_path):
    folder = tmp_path / ".studio" / "jobs"
    folder.mkdir(parents=True)
    for n in range(jobs.KEEP_FINISHED + 3):
        log = folder / f"train-{n}.log"
        log.write_text("done")
        (folder / f"{2**22 + n}.json").write_text(json.dumps(
            {"pid": 2**22 + n, "kind": "train", "args": [], "started": float(n), "log": str(log)}))
    jobs._forget_old(tmp_path, "train")
    kept = jobs.list_jobs(tmp_path, "train")
    assert [job.started for job in kept] == [float(n) for n in range(jobs.KEEP_FINISHED + 2, 2, -1)]
    assert len(list(folder.glob("*.log"))) == jobs.KEEP_FINISHED
