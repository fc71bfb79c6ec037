"""The store, capture and import on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest
from sqlalchemy import inspect, select

from tunesmith.config import FeedbackConfig
from tunesmith.errors import TunesmithError
from tunesmith.feedback import (
    apply_retention,
    feedback_count,
    import_feedback,
    log_exchange,
    open_store,
    rating_score,
    record_feedback,
)
from tunesmith.feedback.schema import Feedback, RequestLog
from tunesmith.feedback.store import current_revision, head_revision

CHAT_REQUEST = {"model": "tunesmith", "messages": [
    {"role": "system", "content": "You are the support bot."},
    {"role": "user", "content": "My email is ana@example.com, call +44 20 7946 0958. Where is my order?"}]}
CHAT_RESPONSE = {"id": "chatcmpl-1", "model": "tunesmith", "usage": {"prompt_tokens": 20, "completion_tokens": 5},
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "Write to help@shop.test"}}]}


def test_migrations_create_every_table_and_reopen_is_a_no_op(db_url):
    store = open_store(db_url)
    assert current_revision(store.engine) == head_revision()
    tables = set(inspect(store.engine).get_table_names())
    assert {"runs", "dataset_versions", "model_versions", "stage_events", "requests", "feedback",
            "alembic_version"} <= tables
    store.close()
    again = open_store(db_url)
    assert current_revision(again.engine) == head_revision()
    again.close()


OPEN_STORE = """
import sys
from tunesmith.feedback.store import current_revision, open_store
print(current_revision(open_store(sys.argv[1]).engine))
"""


def test_processes_opening_a_fresh_store_at_once_all_succeed(db_url):
    openers = [subprocess.Popen([sys.executable, "-c", OPEN_STORE, db_url], stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    revisions = {opener.communicate(timeout=120)[0].strip() for opener in openers}
    assert [opener.returncode for opener in openers] == [0, 0]
    assert revisions == {head_revision()}


def test_logged_exchange_is_masked_and_feedback_copies_its_prompt(store):
    assert log_exchange(store, CHAT_REQUEST, CHAT_RESPONSE, 0.25, 200) == "chatcmpl-1"
    with store.session() as session:
        logged = session.get(RequestLog, "chatcmpl-1")
        assert logged.latency_ms == pytest.approx(250.0)
        assert logged.prompt_tokens == 20
        user_text = logged.messages[1]["content"]
        assert "ana@example.com" not in user_text and "[EMAIL]" in user_text and "[PHONE]" in user_text
        assert logged.response_text == "Write to [EMAIL]"

    row = record_feedback(store, response_id="chatcmpl-1", rating="down",
                          correction="Your order ships tomorrow; track it under Orders.", comment="wrong")
    assert row.score == 0.0
    with store.session() as session:
        stored = session.get(Feedback, row.id)
        assert stored.messages[1]["content"] == user_text
        assert stored.correction.startswith("Your order ships tomorrow")
    assert feedback_count(store) == 1
    assert feedback_count(store, corrected_only=True) == 1


def test_logging_is_opt_in_and_masking_can_be_turned_off(db_url):
    quiet = open_store(db_url, FeedbackConfig())
    assert log_exchange(quiet, CHAT_REQUEST, CHAT_RESPONSE, 0.1, 200) is None
    with quiet.session() as session:
        assert session.scalars(select(RequestLog)).all() == []
    quiet.close()
    raw = open_store(db_url, FeedbackConfig(log_requests=True, mask_pii=False))
    log_exchange(raw, CHAT_REQUEST, CHAT_RESPONSE, 0.1, 200)
    with raw.session() as session:
        assert "ana@example.com" in session.get(RequestLog, "chatcmpl-1").messages[1]["content"]
    raw.close()


def test_ratings_normalise_and_bad_feedback_is_refused(store):
    assert [rating_score(r) for r in ("up", "down", 1, 3, "5", None)] == [1.0, 0.0, 0.0, 0.5, 1.0, None]
    with pytest.raises(TunesmithError, match="rating"):
        rating_score(7)
    with pytest.raises(TunesmithError, match="no rating"):
        record_feedback(store, response_id="x")
    with pytest.raises(TunesmithError, match="neither a response id"):
        record_feedback(store, rating="up")
    assert feedback_count(store) == 0


def test_retention_deletes_old_requests_but_keeps_feedback(store):
    log_exchange(store, CHAT_REQUEST, CHAT_RESPONSE, 0.1, 200)
    record_feedback(store, response_id="chatcmpl-1", correction="Better answer.")
    later = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=31)
    assert apply_retention(store, now=later) == 1
    with store.session() as session:
        assert session.get(RequestLog, "chatcmpl-1") is None
        assert session.scalars(select(Feedback)).one().messages[1]["content"].endswith("Where is my order?")


def test_import_jsonl_and_csv(store, tmp_path):
    jsonl = tmp_path / "fb.jsonl"
    jsonl.write_text(json.dumps({"prompt": "How do I reset?", "correction": "Hold the button 5 s.",
                                 "rating": 2}) + "\n" + json.dumps({"messages": [{"role": "user", "content": "Hi"}],
                                                                    "rating": "up"}) + "\n")
    assert import_feedback(store, jsonl) == 2
    csv_file = tmp_path / "fb.csv"
    csv_file.write_text('prompt,correction,label,comment\n"Is it on sale?",,pricing,from support\n')
    assert import_feedback(store, csv_file) == 1
    with store.session() as session:
        rows = session.scalars(select(Feedback).order_by(Feedback.id)).all()
    assert [r.source for r in rows] == ["import"] * 3
    assert rows[0].messages == [{"role": "user", "content": "How do I reset?"}] and rows[0].score == 0.25
    assert rows[2].label == "pricing"


def test_import_names_the_bad_line_and_stores_nothing(store, tmp_path):
    bad = tmp_path / "bad.jsonl"
    rows = [{"prompt": "ok", "rating": "up"}, {"prompt": "x", "rating": 9}]
    bad.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(TunesmithError, match=r"bad.jsonl:2: rating '9'"):
        import_feedback(store, bad)
    assert feedback_count(store) == 0
