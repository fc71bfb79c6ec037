"""Alembic environment: always runs online, on the connection tunesmith.feedback.store passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from tunesmith.feedback.schema import Base

# Any id fits in a 64-bit advisory lock key; this one is "tunesmith" folded into digits.
_PG_MIGRATION_LOCK = 7_461_235_001

connection = context.config.attributes["connection"]
with connection.begin():
    if connection.dialect.name == "postgresql":
        # Two processes opening a fresh database at once must not both create the tables.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    context.configure(connection=connection, target_metadata=Base.metadata, transactional_ddl=True,
                      render_as_batch=connection.dialect.name == "sqlite")
    context.run_migrations()
