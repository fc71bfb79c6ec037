"""Open the feedback store: an engine tuned for safe concurrent writes, migrated to the latest schema.

SQLite (the default, a file in the project) runs in WAL mode with synchronous=FULL and every transaction
taken with BEGIN IMMEDIATE, so a committed row survives the writer being killed and concurrent writers
queue instead of failing. PostgreSQL is used as is.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tunesmith.config import FeedbackConfig
from tunesmith.errors import TunesmithError

MIGRATIONS = Path(__file__).parent / "migrations"
_SQLITE_BUSY_SECONDS = 30
_MIGRATION_LOCK = threading.Lock()


@dataclass
class Store:
    """The engine plus the feedback settings that govern what gets written."""

    engine: Engine
    settings: FeedbackConfig = field(default_factory=FeedbackConfig)
    last_retention_at: float = 0.0
    cache: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()


def resolve_url(template: str, project_root: str | Path | None) -> str:
    if "{project}" in template:
        if project_root is None:
            raise TunesmithError(f"the store URL {template} needs a project folder",
                                 "Run inside a project, pass --project, or give a full database URL.")
        return template.replace("{project}", Path(project_root).resolve().as_posix())
    return template


def _enable_wal(cursor) -> None:
    """Switch a fresh database to WAL. Two processes switching at once can get "database is locked"
    straight away (SQLite does not call the busy handler there), so retry for a while."""
    deadline = time.monotonic() + _SQLITE_BUSY_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy's begin event below own transaction boundaries (pysqlite's own are lazy).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_SECONDS * 1000}")
        _enable_wal(cursor)
        for pragma in ("synchronous=FULL", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that later writes can fail
        # with "database is locked" without waiting for busy_timeout.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise TunesmithError(f"'{url}' is not a database URL",
                             "Use sqlite:///path/to/tunesmith.db or postgresql+psycopg://user@host/db.") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        folder = Path(parsed.database).parent
        if not folder.is_dir():
            raise TunesmithError(f"the folder of the store {parsed.database} does not exist",
                                 "Create it, or set feedback.database_url in tunesmith.yaml.")
    try:
        engine = create_engine(parsed, pool_pre_ping=True,
                               **({"connect_args": {"timeout": _SQLITE_BUSY_SECONDS}}
                                  if parsed.get_backend_name() == "sqlite" else {}))
    except NoSuchModuleError:
        raise TunesmithError(f"no database driver for {parsed.drivername}",
                             "Use sqlite:/// or postgresql+psycopg://.") from None
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


def _alembic_config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS.as_posix())
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (idempotent; safe when several processes start at once: the
    migration transaction takes SQLite's write lock or a PostgreSQL advisory lock)."""
    if revision == "head" and current_revision(engine) == head_revision():
        return
    # Alembic keeps its migration context in module globals: one migration per process at a time.
    with _MIGRATION_LOCK, engine.connect() as connection:
        command.upgrade(_alembic_config(connection), revision)


def open_store(url: str, settings: FeedbackConfig | None = None, *, upgrade: bool = True) -> Store:
    engine = make_engine(url)
    try:
        if upgrade:
            migrate(engine)
    except OperationalError as err:
        engine.dispose()
        raise TunesmithError(f"cannot open the feedback store at {make_url(url).render_as_string()}: "
                             f"{str(err.orig).strip().splitlines()[0]}",
                             "Check feedback.database_url and that the database server is running.") from None
    return Store(engine, settings or FeedbackConfig())


def open_project_store(project) -> Store:
    """The store of a `tunesmith.project.Project`, configured by its `feedback` section."""
    settings = project.config.feedback
    return open_store(resolve_url(settings.database_url, project.root), settings)
