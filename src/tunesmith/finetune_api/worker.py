"""The job queue: worker threads take queued jobs from the store, one at a time each, and train them in a
child process (`job_process`). The store is the queue, so a restart loses nothing: on start, jobs a
previous server left mid-flight are resumed from their last checkpoint, or failed with the reason. One
process per project runs jobs (a file lock), so several server workers can share a project safely.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tunesmith.finetune_api.jobs import JobService
from tunesmith.finetune_api.launcher import LAUNCHER_MODULE, ForkedJob, Launcher
from tunesmith.finetune_api.progress import RunFollower, checkpoint_folders

JOB_MODULE = "tunesmith.finetune_api.job_process"
LOCK_RETRY_SECONDS = 2.0
DEFAULT_TRAINER = "tunesmith.train:run_training"
DEFAULT_EVALUATOR = "tunesmith.finetune_api.evaluation:evaluate_job"


class JobWorker:
    def __init__(self, jobs: JobService, *, trainer: str = DEFAULT_TRAINER, evaluator: str | None = DEFAULT_EVALUATOR,
                 poll_seconds: float = 0.5, stop_grace_seconds: float = 60.0, use_launcher: bool = True):
        self.jobs, self.store, self.settings = jobs, jobs.store, jobs.settings
        self.trainer, self.evaluator = trainer, evaluator if jobs.settings.evaluate else None
        self.poll_seconds, self.stop_grace_seconds = poll_seconds, stop_grace_seconds
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.children: dict[str, subprocess.Popen | ForkedJob] = {}
        self.launcher: Launcher | None = None
        self.use_launcher = use_launcher
        self.lock_file = None
        jobs.on_change = self.wake.set

    def start(self) -> JobWorker:
        """Run jobs in this process, or, while another process (a second server worker) holds the project's
        job lock, wait in the background and take over when it stops."""
        self.lock_file = (self.jobs.folder.parent / "worker.lock").open("a")
        if not self._take_lock():
            waiter = threading.Thread(target=self._wait_for_lock, name="finetune-lock-wait", daemon=True)
            waiter.start()
            self.threads.append(waiter)
        return self

    def _take_lock(self) -> bool:
        try:
            fcntl.flock(self.lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._run_jobs_here()
        return True

    def _wait_for_lock(self) -> None:
        while not self.stopping.is_set() and not self._take_lock():
            self.stopping.wait(LOCK_RETRY_SECONDS)

    def _run_jobs_here(self) -> None:
        self.recover()
        if self.use_launcher:
            self.launcher = Launcher(self.jobs.folder.parent / "launcher.log")
        for number in range(self.settings.parallel_jobs):
            thread = threading.Thread(target=self._loop, name=f"finetune-worker-{number}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        """Stop taking jobs; running children checkpoint and stop, and their jobs resume on the next start."""
        self.stopping.set()  # each thread signals its own child once (a second SIGTERM could cut a save short)
        self.wake.set()
        for thread in list(self.threads):
            thread.join(timeout=self.stop_grace_seconds + 5)
        self.threads.clear()
        if self.launcher is not None:
            self.launcher.close()
            self.launcher = None
        if self.lock_file is not None:
            self.lock_file.close()  # releases the job lock for the next server
            self.lock_file = None

    def _spawn(self, spec_path: Path, log_path: Path) -> subprocess.Popen | ForkedJob:
        """A training process for one job: forked by the launcher, or started afresh if the launcher is gone."""
        child = self.launcher.spawn(spec_path, log_path) if self.launcher is not None else None
        if child is not None:
            return child
        with log_path.open("ab") as log:
            return subprocess.Popen([sys.executable, "-m", JOB_MODULE, str(spec_path)], stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def recover(self) -> None:
        for job in self.store.select("jobs", "status IN ('validating_files', 'running')", order="seq ASC"):
            _wait_for_orphan(job["pid"], self.stop_grace_seconds)
            steps = sorted(checkpoint_folders(Path(job["run_dir"]))) if job["run_dir"] else []
            where = f"checkpoint step {steps[-1]}" if steps else "the start (no checkpoint was saved yet)"
            if job["stop_requested"] == "cancel":
                self.jobs.finish(job["id"], "cancelled", "The job was cancelled (the server stopped meanwhile).")
            elif job["stop_requested"] == "pause":
                self.jobs.paused(job["id"])
            elif job["attempts"] > self.settings.max_restarts:
                self.jobs.fail(job["id"], "server_restart",
                               f"The server stopped {job['attempts']} times while this job ran (limit "
                               f"finetune_api.max_restarts={self.settings.max_restarts}); last checkpoint: {where}.")
            else:
                self.store.transition("jobs", job["id"], ("validating_files", "running"), status="queued", event={
                    "message": f"The server restarted during this job; it will resume from {where}.", "level": "warn"})

    def _loop(self) -> None:
        while not self.stopping.is_set():
            job = self.jobs.claim_next()
            if job is None:
                self.wake.wait(self.poll_seconds * 4)
                self.wake.clear()
                continue
            try:
                self._run(job)
            except Exception as err:  # a worker thread must survive any one job
                self.jobs.fail(job["id"], "internal_error", f"{type(err).__name__}: {err}")

    def _run(self, job: dict[str, Any]) -> None:
        prepared = self.jobs.prepare(job)  # validating_files: parse files, build config and run folder
        if prepared is None:
            return
        spec = {**prepared, "trainer": self.trainer, "evaluator": self.evaluator}
        spec_path = Path(prepared["job_dir"]) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        Path(spec["result_path"]).unlink(missing_ok=True)
        if not self.jobs.mark_running(job["id"], spec["resume"]):
            return
        log_path = Path(prepared["job_dir"]) / "train.log"
        child = self._spawn(spec_path, log_path)
        self.children[job["id"]] = child
        self.store.update("jobs", job["id"], pid=child.pid)
        follower = RunFollower(self.store, job["id"], Path(spec["run_dir"]),
                               evaluating=bool(self.evaluator and spec["validation_path"]))
        try:
            self._follow(job["id"], child, follower)
        finally:
            self.children.pop(job["id"], None)
        follower.poll()
        if self.stopping.is_set() and not self.jobs.stop_requested(job["id"]):
            return  # left "running" on purpose: the next start resumes it
        self.jobs.conclude(job["id"], Path(spec["result_path"]), Path(prepared["job_dir"]) / "train.log")

    def _follow(self, job_id: str, child: subprocess.Popen | ForkedJob, follower: RunFollower) -> None:
        deadline: threading.Timer | None = None
        while child.poll() is None:
            follower.poll()
            if deadline is None and (self.stopping.is_set() or self.jobs.stop_requested(job_id)):
                child.send_signal(signal.SIGTERM)  # the trainer saves a checkpoint, then exits
                deadline = threading.Timer(self.stop_grace_seconds, _kill_if_running, (child,))
                deadline.daemon = True
                deadline.start()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=self.poll_seconds)
        if deadline is not None:
            deadline.cancel()


def _wait_for_orphan(pid: int | None, grace: float) -> None:
    """A child of a server that died stops itself (checkpointing); wait for that before training resumes."""
    if not pid or not _is_job_process(pid):
        return
    deadline = time.monotonic() + grace
    while _is_job_process(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _is_job_process(pid):
        os.kill(pid, signal.SIGKILL)


def _is_job_process(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return status != "Z" and any(module.encode() in cmdline for module in (JOB_MODULE, LAUNCHER_MODULE))


def _kill_if_running(child: subprocess.Popen | ForkedJob) -> None:
    if child.poll() is None:
        child.kill()
