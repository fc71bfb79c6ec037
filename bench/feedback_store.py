"""Benchmark: how fast the feedback store takes writes, on SQLite (WAL, synchronous=FULL) and PostgreSQL.

Run: .venv/bin/python bench/feedback_store.py [--rows 500] [--postgres URL]
Writes bench/results/feedback_store.md. Measures one writer committing one feedback row per transaction
(the server's pattern: every 201 means committed), four concurrent writer threads, `log_exchange` with PII
masking, and `POST /v1/feedback` through the FastAPI router (in-process client). PostgreSQL uses
scripts/ensure_postgres.sh when no URL is given (a throwaway test server with fsync off, so its numbers
are an upper bound).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from tunesmith.config import FeedbackConfig
from tunesmith.feedback import feedback_router, log_exchange, open_store, record_feedback

ROOT = Path(__file__).resolve().parents[1]
PROMPT = [{"role": "user", "content": "My e-mail is ana@example.com and my card 4111 1111 1111 1111 was charged "
           "twice for order 5521. Can you refund one of them?"}]
ANSWER = {"id": "", "model": "bikes", "usage": {"prompt_tokens": 40, "completion_tokens": 30},
          "choices": [{"message": {"role": "assistant", "content": "Sorry about that! I refunded the second charge."}}]}


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s ({seconds * 1000 / count:.2f} ms each)"


def measure(url: str, rows: int) -> dict[str, str]:
    store = open_store(url, FeedbackConfig(log_requests=True))
    results = {}
    started = time.perf_counter()
    for n in range(rows):
        record_feedback(store, messages=PROMPT, rating="down", correction=f"Refunded charge {n}.")
    results["record_feedback, 1 writer"] = rate(rows, time.perf_counter() - started)

    def write(n: int) -> None:
        record_feedback(store, messages=PROMPT, rating=(n % 5) + 1, comment="thanks")

    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(rows)))
    results["record_feedback, 4 writer threads"] = rate(rows, time.perf_counter() - started)

    started = time.perf_counter()
    for _ in range(rows):
        log_exchange(store, {"messages": PROMPT}, ANSWER | {"id": uuid.uuid4().hex}, 0.2, 200)
    results["log_exchange (with PII masking)"] = rate(rows, time.perf_counter() - started)

    app = FastAPI()
    app.include_router(feedback_router(store))
    with TestClient(app) as client:
        started = time.perf_counter()
        for n in range(rows):
            client.post("/v1/feedback", json={"messages": PROMPT, "rating": "up", "comment": f"#{n}"})
        results["POST /v1/feedback (in-process client)"] = rate(rows, time.perf_counter() - started)
    store.close()
    return results


def fresh_postgres(base_url: str) -> tuple[str, callable]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()

    return base_url.rsplit("/", 1)[0] + f"/{name}", drop


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--postgres", default=os.environ.get("TUNESMITH_TEST_PG_URL"))
    args = parser.parse_args()
    sections = []
    with tempfile.TemporaryDirectory() as scratch:
        sections.append(("SQLite file (WAL, synchronous=FULL, BEGIN IMMEDIATE)",
                         measure(f"sqlite:///{scratch}/tunesmith.db", args.rows)))
    pg_url, started_pg = args.postgres, False
    if not pg_url:
        script = ROOT / "scripts" / "ensure_postgres.sh"
        pg_url = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True).stdout.split()[-1]
        started_pg = True
    url, drop = fresh_postgres(pg_url)
    try:
        sections.append(("PostgreSQL 15 (local test server, fsync off)", measure(url, args.rows)))
    finally:
        drop()
        if started_pg:
            subprocess.run(["bash", str(ROOT / "scripts" / "ensure_postgres.sh"), "stop"], capture_output=True)
    load = os.getloadavg()[0]
    lines = ["# feedback_store benchmark", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {sys.version.split()[0]}, "
             f"{args.rows} rows per measurement, load average {load:.1f} on 2 shared cores (bench/feedback_store.py).",
             ""]
    for title, results in sections:
        lines += [f"## {title}", "", "| operation | throughput |", "|---|---|"]
        lines += [f"| {name} | {value} |" for name, value in results.items()] + [""]
    out = ROOT / "bench" / "results" / "feedback_store.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
