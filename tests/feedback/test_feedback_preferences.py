"""Feedback as preferences: pairs (a correction of a known answer), rated answers (KTO), the objective `auto` picks,
the answer kept beside the feedback, and the dataset version a preference objective trains on (no models)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, text

from tunesmith.config import parse_config
from tunesmith.data import load_prepared, prepare
from tunesmith.feedback import apply_retention, import_feedback, log_exchange, open_store, record_feedback
from tunesmith.feedback.dataset import build_feedback_version, choose_objective, feedback_records, signal_counts
from tunesmith.feedback.schema import Feedback
from tunesmith.feedback.store import migrate
from tunesmith.project import Project

PROMPT = [{"role": "user", "content": "Can I fit mudguards to a carbon frame?"}]


def row(i, correction=None, answer=None, score=None, messages=PROMPT):
    return {"id": i, "response_id": f"r{i}", "messages": messages, "correction": correction, "answer": answer,
            "score": score, "label": None}


def test_each_row_teaches_a_pair_a_demonstration_a_rating_or_nothing():
    rows = [row(1, correction="Yes, with clip-on ones.", answer="No idea."),  # pair: correction chosen
            row(2, correction="Yes, with clip-on ones."),  # the answer is unknown: a demonstration
            row(3, correction="Same text.", answer=" Same   text."),  # nothing to prefer it over
            row(4, answer="Yes, clip-on ones fit.", score=1.0),  # thumbs up: desirable
            row(5, answer="No idea.", score=0.0),  # thumbs down without a correction: undesirable
            row(6, answer="Perhaps.", score=0.5),  # 3 of 5 stars: neither
            row(7, answer="No idea.", score=0.0, messages=[])]  # no prompt
    assert signal_counts(rows, "chat") == {"pair": 1, "demonstration": 2, "rating": 2}

    dpo = feedback_records(rows, "chat", "dpo")
    assert dpo == [{"id": "feedback-1", "input": {"messages": PROMPT},
                    "preferred_output": [{"role": "assistant", "content": "Yes, with clip-on ones."}],
                    "non_preferred_output": [{"role": "assistant", "content": "No idea."}],
                    "meta": {"source": "feedback", "feedback_id": 1, "response_id": "r1"}}]
    kto = feedback_records(rows, "chat", "kto")
    assert [(r["id"], r["completion"][0]["content"], r["label"]) for r in kto] == [
        ("feedback-4", "Yes, clip-on ones fit.", True), ("feedback-5", "No idea.", False)]
    sft = feedback_records(rows, "chat", "sft")  # every correction, the pair's chosen side included
    assert [r["id"] for r in sft] == ["feedback-1", "feedback-2", "feedback-3"]


@pytest.mark.parametrize(("counts", "setting", "objective", "words"), [
    ({"pair": 12, "demonstration": 3, "rating": 5}, "auto", "dpo", "objective dpo (auto): most corrections replace"),
    ({"pair": 3, "demonstration": 37, "rating": 0}, "auto", "sft", "objective sft (auto): most corrections come"),
    ({"pair": 2, "demonstration": 1, "rating": 9}, "auto", "kto", "objective kto (auto): ratings without"),
    ({"pair": 0, "demonstration": 0, "rating": 0}, "auto", None, "the store holds no correction or rated answer"),
    ({"pair": 0, "demonstration": 4, "rating": 9}, "dpo", None, "feedback.objective is dpo, but the store holds no"),
    ({"pair": 1, "demonstration": 4, "rating": 9}, "sft", "sft", "objective sft (feedback.objective)"),
])
def test_auto_picks_the_objective_from_what_the_store_holds_and_says_why(counts, setting, objective, words):
    chosen, reason = choose_objective(counts, setting, "chat")
    assert chosen == objective and reason.startswith(words) and "\n" not in reason
    assert f"{counts['pair']} correction(s) of a known answer" in reason


def test_classification_feedback_is_always_labels():
    assert choose_objective({"pair": 0, "demonstration": 2, "rating": 5}, "auto", "classification")[0] == "sft"


def test_feedback_keeps_the_answer_it_rates_after_the_request_expires(store, tmp_path):
    request = {"model": "m", "messages": PROMPT}
    response = {"id": "chatcmpl-7", "choices": [{"message": {"role": "assistant", "content": "No idea."}}]}
    log_exchange(store, request, response, 0.1)
    record_feedback(store, response_id="chatcmpl-7", rating="down", correction="Yes, with clip-on ones.")
    # without request logging, the client sends the answer (or the conversation ending with it)
    record_feedback(store, messages=[*PROMPT, {"role": "assistant", "content": "Maybe?"}], rating="down")
    record_feedback(store, messages=PROMPT, answer="Yes.", rating="up")
    later = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=31)
    assert apply_retention(store, now=later) == 1
    with store.session() as session:
        rows = session.scalars(select(Feedback).order_by(Feedback.id)).all()
        assert [r.answer for r in rows] == ["No idea.", "Maybe?", "Yes."]
    imported = tmp_path / "fb.jsonl"
    imported.write_text(json.dumps({"prompt": "Hi?", "answer": "Go away.", "correction": "Hello!"}) + "\n")
    assert import_feedback(store, imported) == 1
    with store.session() as session:
        assert session.scalars(select(Feedback.answer).order_by(Feedback.id.desc())).first() == "Go away."


def test_the_migration_copies_answers_of_earlier_feedback_from_its_logged_request(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = open_store(url, upgrade=False)
    migrate(store.engine, "0001")  # a store written before feedback kept its answer
    with store.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO requests (id, created_at, endpoint, model, messages, response_text, status, latency_ms) "
            "VALUES ('chatcmpl-1', '2026-01-01', '/v1/chat/completions', 'm', '[]', 'No idea.', 200, 1.0)"))
        for response_id in ("'chatcmpl-1'", "'gone'", "NULL"):
            connection.execute(text(
                "INSERT INTO feedback (response_id, created_at, correction, comment, messages, source) "
                f"VALUES ({response_id}, '2026-01-01', 'Yes.', '', '[]', 'api')"))
    migrate(store.engine)
    with store.engine.connect() as connection:
        answers = connection.execute(text("SELECT answer FROM feedback ORDER BY id")).scalars().all()
    assert answers == ["No idea.", None, None]
    store.close()


def _chat(question, answer, group):
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
            "metadata": {"group": group}}


def test_a_preference_version_trains_on_the_pairs_alone_and_keeps_the_held_out_files(tmp_path, tiny_lm_dir):
    questions = [f"Question number {i} about bikes?" for i in range(30)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(_chat(q, "An answer.", q)) + "\n" for q in questions))
    config = parse_config({"model": {"name": str(tiny_lm_dir), "max_length": 64},
                           "data": {"sources": [{"path": "train.jsonl"}], "validation_share": 0.2,
                                    "test_share": 0.2}})
    project = Project.create(tmp_path, config)
    parent = prepare(project)
    test_prompts = {r["messages"][0]["content"] for r in parent.split("test")}
    fresh = ["Which brake pads suit wet weather?", "How often should I oil the chain?",
             "Can I ride the e-bike in heavy rain?", "What tyre pressure do you recommend for gravel?"]
    rows = [row(i, correction="Better.", answer="Worse.", messages=[{"role": "user", "content": q}])
            for i, q in enumerate([*fresh, next(iter(test_prompts))])]  # the last would leak the test split
    built = build_feedback_version(project, parent, rows, "dpo")
    assert built.added == 4 and built.dropped["held_out_overlap"] == 1
    version = load_prepared(built.dataset.path)
    assert sorted(r["messages"][0]["content"] for r in version.split("train")) == sorted(fresh)
    assert all(r["rejected"] == "Worse." and r["messages"][-1]["content"] == "Better." for r in version.split("train"))
    for split in ("validation", "test"):
        assert (version.path / f"{split}.parquet").read_bytes() == (parent.path / f"{split}.parquet").read_bytes()
    assert version.manifest["objective"] == "dpo" and version.manifest["parent"] == parent.version
