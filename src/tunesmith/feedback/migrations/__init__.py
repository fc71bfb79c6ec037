"""Alembic migrations of the feedback store, run by tunesmith.feedback.store.migrate()."""
