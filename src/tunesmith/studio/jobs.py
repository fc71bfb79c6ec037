"""Background jobs (training, the API server): separate processes that outlive a browser refresh.

Each job is `python -m tunesmith.studio.runner KIND ...` in its own session, recorded as
`<project>/.studio/jobs/<pid>.json` with its log file, so a restarted studio still sees it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

_children: dict[int, subprocess.Popen] = {}  # reaped on poll so finished children do not linger as zombies


@dataclass
class Job:
    pid: int
    kind: str
    args: list[str]
    started: float
    log: Path
    record: Path

    @property
    def alive(self) -> bool:
        return is_alive(self.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _jobs_dir(root: Path) -> Path:
    return root / ".studio" / "jobs"


def is_alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    # A pid can be reused by an unrelated process: only our runner counts.
    return stat.split(") ", 1)[-1][:1] != "Z" and b"tunesmith.studio.runner" in cmdline


KEEP_FINISHED = 5  # finished jobs of each kind whose record and log stay for the pages to show


def _forget_old(root: Path, kind: str) -> None:
    finished = [job for job in list_jobs(root, kind) if not job.alive]
    for job in finished[KEEP_FINISHED:]:
        job.record.unlink(missing_ok=True)
        job.log.unlink(missing_ok=True)


def start_job(root: Path, kind: str, args: list[str]) -> Job:
    _forget_old(root, kind)
    folder = _jobs_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log = folder / f"{kind}-{stamp}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    with log.open("w", encoding="utf-8") as out:
        child = subprocess.Popen([sys.executable, "-m", "tunesmith.studio.runner", kind, *args], cwd=root,
                                 stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 env=env, start_new_session=True)
    _children[child.pid] = child
    record = folder / f"{child.pid}.json"
    job = Job(child.pid, kind, args, time.time(), log, record)
    record.write_text(json.dumps({"pid": job.pid, "kind": kind, "args": args, "started": job.started,
                                  "log": str(log)}), encoding="utf-8")
    return job


def list_jobs(root: Path, kind: str | None = None) -> list[Job]:
    """Known jobs of `kind`, newest first (finished ones too, until their record is removed)."""
    jobs = []
    for record in _jobs_dir(root).glob("*.json"):
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if kind is None or data.get("kind") == kind:
            jobs.append(Job(data["pid"], data["kind"], data["args"], data["started"], Path(data["log"]), record))
    return sorted(jobs, key=lambda job: job.started, reverse=True)


def running_jobs(root: Path, kind: str) -> list[Job]:
    return [job for job in list_jobs(root, kind) if job.alive]


# Training finishes its current step and writes a checkpoint on SIGTERM: give it time before SIGKILL.
STOP_GRACE_SECONDS = {"train": 300.0, "improve": 300.0, "serve": 15.0}


def stop_job(job: Job, timeout: float | None = None) -> None:
    """Ask the job to stop (SIGTERM lets it save its state), then make sure it is gone."""
    timeout = timeout if timeout is not None else STOP_GRACE_SECONDS.get(job.kind, 15.0)
    try:
        os.killpg(job.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + timeout
    while job.alive and time.time() < deadline:
        time.sleep(0.2)
    if job.alive:
        os.killpg(job.pid, signal.SIGKILL)
        time.sleep(0.2)
    is_alive(job.pid)  # reap
