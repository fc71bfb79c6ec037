"""The persistent state of the fine-tuning API: files, jobs, events and checkpoints in one SQLite file.

Write-ahead logging lets the server's request threads and the job worker read and write at once; every
call opens its own short connection, so the store is safe to share between threads.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, filename TEXT NOT NULL,
  purpose TEXT NOT NULL, bytes INTEGER NOT NULL, created_at INTEGER NOT NULL, path TEXT NOT NULL,
  records INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, created_at INTEGER NOT NULL,
  model TEXT NOT NULL, base_model TEXT NOT NULL, training_file TEXT NOT NULL, validation_file TEXT,
  hyperparameters TEXT NOT NULL, suffix TEXT, seed INTEGER NOT NULL, status TEXT NOT NULL,
  fine_tuned_model TEXT, finished_at INTEGER, error TEXT, run_dir TEXT, attempts INTEGER NOT NULL DEFAULT 0,
  stop_requested TEXT, trained_tokens INTEGER, result_files TEXT NOT NULL DEFAULT '[]',
  metadata TEXT, report TEXT, pid INTEGER, estimated_finish INTEGER, method TEXT NOT NULL DEFAULT 'supervised');
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, job_id TEXT NOT NULL,
  created_at INTEGER NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL, type TEXT NOT NULL, data TEXT);
CREATE TABLE IF NOT EXISTS checkpoints (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, job_id TEXT NOT NULL,
  created_at INTEGER NOT NULL, step INTEGER NOT NULL, path TEXT NOT NULL, metrics TEXT NOT NULL,
  UNIQUE (job_id, step));
CREATE INDEX IF NOT EXISTS events_by_job ON events (job_id, seq);
"""
ADDED_COLUMNS = {"method": "TEXT NOT NULL DEFAULT 'supervised'"}  # column -> definition, for older stores
JSON_COLUMNS = {"hyperparameters", "error", "result_files", "metadata", "report", "data", "metrics"}
TABLES = {"files", "jobs", "events", "checkpoints"}


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}-{secrets.token_hex(length // 2)}"


def now() -> int:
    return int(time.time())


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    item = dict(row)
    for key in JSON_COLUMNS & item.keys():
        if item[key] is not None:
            item[key] = json.loads(item[key])
    return item


def _encode(values: dict[str, Any]) -> dict[str, Any]:
    return {k: json.dumps(v) if k in JSON_COLUMNS and v is not None else v for k, v in values.items()}


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            for column, definition in ADDED_COLUMNS.items():  # stores written by an earlier version
                if column not in {row[1] for row in db.execute("PRAGMA table_info(jobs)")}:
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {definition}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA busy_timeout=30000")
            yield db
        finally:
            db.close()

    def insert(self, table: str, values: dict[str, Any], event: dict | None = None) -> dict[str, Any]:
        """Add a row; `event` (keyword arguments of `add_event`, for a job) is recorded in the same transaction,
        so a worker that picks the row up at once cannot log its events before the one that created it."""
        assert table in TABLES
        row = _encode(values)
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(f"INSERT OR IGNORE INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))
            if event:
                item = _encode(self._event_row(values["id"], **event))
                db.execute(f"INSERT INTO events ({', '.join(item)}) VALUES ({', '.join('?' for _ in item)})",
                           tuple(item.values()))
            db.execute("COMMIT")
        return values

    def update(self, table: str, object_id: str, **values: Any) -> None:
        assert table in TABLES
        row = _encode(values)
        assignments = ", ".join(f"{key} = ?" for key in row)
        with self._connect() as db:
            db.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", (*row.values(), object_id))

    def delete(self, table: str, object_id: str) -> bool:
        assert table in TABLES
        with self._connect() as db:
            return db.execute(f"DELETE FROM {table} WHERE id = ?", (object_id,)).rowcount > 0

    def get(self, table: str, object_id: str) -> dict[str, Any] | None:
        assert table in TABLES
        with self._connect() as db:
            row = db.execute(f"SELECT * FROM {table} WHERE id = ?", (object_id,)).fetchone()
        return _decode(row) if row else None

    def select(self, table: str, where: str = "1", params: tuple = (), order: str = "seq DESC") -> list[dict]:
        assert table in TABLES
        with self._connect() as db:
            rows = db.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY {order}", params).fetchall()
        return [_decode(row) for row in rows]

    def page(self, table: str, *, where: str = "1", params: tuple = (), after: str | None = None,
             limit: int = 20, newest_first: bool = True) -> tuple[list[dict], bool]:
        """One page in OpenAI's cursor style: items after the object `after`, and whether more follow."""
        assert table in TABLES
        clause, args = where, list(params)
        if after:
            clause += f" AND seq {'<' if newest_first else '>'} COALESCE((SELECT seq FROM {table} WHERE id = ?), 0)"
            args.append(after)
        rows = self.select(table, clause, tuple(args), f"seq {'DESC' if newest_first else 'ASC'} LIMIT {limit + 1}")
        return rows[:limit], len(rows) > limit

    @staticmethod
    def _event_row(job_id: str, message: str, *, level: str = "info", type: str = "message",
                   data: dict | None = None) -> dict[str, Any]:
        return {"id": new_id("ftevent"), "job_id": job_id, "created_at": now(), "level": level,
                "message": message, "type": type, "data": data}

    def add_event(self, job_id: str, message: str, **details: Any) -> dict[str, Any]:
        return self.insert("events", self._event_row(job_id, message, **details))

    def transition(self, table: str, object_id: str, from_statuses: tuple[str, ...], event: dict | None = None,
                   **values: Any) -> bool:
        """Update a row only while its status is one of `from_statuses`; True if this call did it.

        `event` (keyword arguments of `add_event`) is recorded in the same transaction, so a client that
        sees the new status also sees the event that explains it.
        """
        assert table in TABLES
        row = _encode(values)
        assignments = ", ".join(f"{key} = ?" for key in row)
        marks = ", ".join("?" for _ in from_statuses)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            cursor = db.execute(f"UPDATE {table} SET {assignments} WHERE id = ? AND status IN ({marks})",
                                (*row.values(), object_id, *from_statuses))
            changed = cursor.rowcount > 0
            if changed and event:
                item = _encode(self._event_row(object_id, **event))
                db.execute(f"INSERT INTO events ({', '.join(item)}) VALUES ({', '.join('?' for _ in item)})",
                           tuple(item.values()))
            db.execute("COMMIT")
            return changed
