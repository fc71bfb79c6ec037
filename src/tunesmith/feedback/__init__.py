"""Feedback store, model registry, capture, monitoring and the improve loop.

Server integration: `attach_feedback(app, store)` adds `POST /v1/feedback` and request logging;
`production_run(store)` says which run folder to serve (re-read on a short TTL, so promotions and
rollbacks apply without a restart); `tunesmith.feedback.serving` has `attach_project_feedback` (one line
in `tunesmith serve`) and `create_production_app` (serves the production version under the project name).
The improve loop is `tunesmith.feedback.improve.improve(project)`.
"""

from tunesmith.feedback.api import ExchangeLogger, attach_feedback, feedback_router
from tunesmith.feedback.capture import apply_retention, feedback_count, log_exchange, rating_score, record_feedback
from tunesmith.feedback.importing import import_feedback
from tunesmith.feedback.improve import ImproveResult, decide
from tunesmith.feedback.pii import mask_messages, mask_text
from tunesmith.feedback.registry import (
    cached_production,
    history,
    production_run,
    production_version,
    promote,
    register_run,
    rollback,
)
from tunesmith.feedback.store import Store, migrate, open_project_store, open_store

__all__ = [
    "ExchangeLogger", "ImproveResult", "Store", "apply_retention", "attach_feedback", "cached_production",
    "decide", "feedback_count", "feedback_router", "history", "import_feedback", "log_exchange",
    "mask_messages", "mask_text", "migrate", "open_project_store", "open_store", "production_run",
    "production_version", "promote", "rating_score", "record_feedback", "register_run", "rollback",
]
