"""A fork server for job processes: imports torch, transformers and the trainer once, then forks a ready
child per job, so a job starts training in a moment instead of re-importing for many seconds.

Protocol on stdin/stdout, one line each: the worker writes `SPEC_PATH<TAB>LOG_PATH`, the launcher answers
the child's pid. The launcher exits when its stdin closes (the server stopped or died); its children then
notice they are orphaned and stop themselves, checkpointing, exactly as `job_process` children do.
Nothing runs torch code before forking, so the children start from a clean, single-threaded runtime.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

LAUNCHER_MODULE = "tunesmith.finetune_api.launcher"
PRELOAD = ("torch", "transformers", "peft", "peft.tuners.lora", "transformers.models.llama.modeling_llama",
           "tunesmith.train", "tunesmith.evaluate", "tunesmith.data", "tunesmith.finetune_api.job_process")


def _run_child(spec_path: str, log_path: str) -> None:
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    code = 1
    try:
        from tunesmith.finetune_api.job_process import main

        code = main([spec_path])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve(lines, answer) -> None:
    for line in lines:
        spec_path, log_path = line.rstrip("\n").split("\t")
        pid = os.fork()
        if pid == 0:
            _run_child(spec_path, log_path)
        answer(f"{pid}\n")


def main() -> None:
    import importlib

    import matplotlib

    matplotlib.use("Agg")  # what the trainer's loss plot uses; pyplot is slow to import per job
    for module in (*PRELOAD, "matplotlib.pyplot"):
        importlib.import_module(module)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel; results are files
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on the server's terminal is the server's to handle
    assert threading.active_count() == 1, "fork only from a single-threaded launcher"
    print("ready", flush=True)

    def answer(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    serve(iter(sys.stdin.readline, ""), answer)
    os._exit(0)  # at once: the children watch for this exit, and tearing down torch takes seconds


class Launcher:
    """The server's side: starts the fork server and asks it for job processes."""

    def __init__(self, log_path: Path):
        with Path(log_path).open("ab") as log:
            # `-c`, not `-m`: the package imports this module, and runpy warns when run that way
            command = f"from {LAUNCHER_MODULE} import main; main()"
            self.process = subprocess.Popen([sys.executable, "-c", command], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1)
        self.ready = False
        self.lock = threading.Lock()

    def spawn(self, spec_path: Path, log_path: Path) -> ForkedJob | None:
        """A forked job process, or None when the launcher is not working (the caller starts one itself)."""
        with self.lock:
            if self.process.poll() is not None:
                return None
            try:
                if not self.ready:  # the first job waits for the imports to finish
                    self.ready = self.process.stdout.readline().strip() == "ready"
                if not self.ready:
                    return None
                self.process.stdin.write(f"{spec_path}\t{log_path}\n")
                return ForkedJob(int(self.process.stdout.readline()))
            except (OSError, ValueError):
                return None

    def close(self) -> None:
        if not self.ready:  # still importing, so no job runs under it
            self.process.kill()
        with contextlib.suppress(OSError):
            self.process.stdin.close()  # end of input: the launcher exits
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ForkedJob:
    """The handle of a launcher child: what the worker needs of `subprocess.Popen`.

    It is not our child, so it is recognised by pid *and* start time: a pid the kernel reuses later for
    another process never looks like the job.
    """

    def __init__(self, pid: int):
        self.pid = pid
        self.started = process_start(pid)

    def poll(self) -> int | None:
        return None if self.started is not None and process_start(self.pid) == self.started else 0

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
            time.sleep(0.05)
        return 0


def process_start(pid: int) -> int | None:
    """When a live process started (clock ticks since boot), or None if there is none (or only a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else int(fields[19])


if __name__ == "__main__":
    main()
