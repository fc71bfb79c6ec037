"""Store fixtures: every store test runs on SQLite and on a real PostgreSQL server.

PostgreSQL comes from scripts/ensure_postgres.sh (installs Debian's package if needed and starts a
cluster on a local port), or from TUNESMITH_TEST_PG_URL when that points at a server already running.
Each test gets its own fresh database.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tunesmith.config import FeedbackConfig
from tunesmith.feedback.store import open_store

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ensure_postgres.sh"


def _reachable(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_url():
    """URL of a running PostgreSQL server; started for this session (and stopped after) if needed."""
    given = os.environ.get("TUNESMITH_TEST_PG_URL")
    if given:
        yield given
        return
    default = "postgresql+psycopg://postgres@127.0.0.1:54329/tunesmith_test"
    was_running = _reachable(default)
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"ensure_postgres.sh failed:\n{result.stderr}"
    url = result.stdout.strip().splitlines()[-1]
    os.environ["TUNESMITH_TEST_PG_URL"] = url
    yield url
    os.environ.pop("TUNESMITH_TEST_PG_URL", None)
    if not was_running:
        subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True, timeout=120)


@pytest.fixture
def fresh_postgres_db(postgres_url):
    """A new, empty database on the test server, dropped afterwards."""
    name = f"ts_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tunesmith.db'}"
    return request.getfixturevalue("fresh_postgres_db")


@pytest.fixture
def store(db_url):
    opened = open_store(db_url, FeedbackConfig(log_requests=True))
    yield opened
    opened.close()
