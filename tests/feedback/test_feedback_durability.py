"""No acknowledged feedback is lost when the writer is killed with SIGKILL mid-write."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
from sqlalchemy import create_engine, text

SERVER = """
import sys, uvicorn
from fastapi import FastAPI
from tunesmith.config import FeedbackConfig
from tunesmith.feedback import attach_feedback, open_store
store = open_store(sys.argv[1], FeedbackConfig(log_requests=True))
uvicorn.run(attach_feedback(FastAPI(), store), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""

WRITER = """
import sys
from tunesmith.feedback import open_store, record_feedback
store = open_store(sys.argv[1])
for n in range(100000):
    row = record_feedback(store, response_id=f"r{n}", rating="up", correction="x" * 2000,
                          messages=[{"role": "user", "content": f"q{n}"}])
    print(row.id, flush=True)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _count_and_check(db_file) -> tuple[int, set[int]]:
    engine = create_engine(f"sqlite:///{db_file}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        ids = {row[0] for row in connection.execute(text("SELECT id FROM feedback"))}
    engine.dispose()
    return len(ids), ids


def test_killing_the_server_mid_write_loses_no_acknowledged_feedback(tmp_path):
    db_file = tmp_path / "tunesmith.db"
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, f"sqlite:///{db_file}", str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                httpx.get(base + "/docs", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        acknowledged: list[int] = []
        lock = threading.Lock()

        def post_forever(worker: int) -> None:
            with httpx.Client(base_url=base, timeout=5) as client:
                for n in range(10000):
                    try:
                        reply = client.post("/v1/feedback", json={
                            "response_id": f"w{worker}-{n}", "rating": (n % 5) + 1, "correction": "fixed " * 50,
                            "messages": [{"role": "user", "content": f"question {n}"}]})
                    except httpx.TransportError:
                        return
                    if reply.status_code == 201:
                        with lock:
                            acknowledged.append(int(reply.json()["id"].removeprefix("fb-")))

        workers = [threading.Thread(target=post_forever, args=(w,)) for w in range(4)]
        for worker in workers:
            worker.start()
        while len(acknowledged) < 100 and server.poll() is None:
            time.sleep(0.01)
        os.kill(server.pid, signal.SIGKILL)
        for worker in workers:
            worker.join(timeout=30)
    finally:
        server.kill()
        server.wait()
    count, ids = _count_and_check(db_file)
    assert len(acknowledged) >= 100
    assert set(acknowledged) <= ids, f"lost {sorted(set(acknowledged) - ids)[:5]}"
    assert count >= len(acknowledged)


def test_killing_a_writer_process_keeps_every_committed_row(tmp_path):
    db_file = tmp_path / "tunesmith.db"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, f"sqlite:///{db_file}"], stdout=subprocess.PIPE,
                              text=True)
    committed = []
    for line in writer.stdout:
        committed.append(int(line))
        if len(committed) == 150:
            writer.send_signal(signal.SIGKILL)
            break
    writer.wait()
    writer.stdout.close()
    count, ids = _count_and_check(db_file)
    assert set(committed) <= ids and count >= 150
