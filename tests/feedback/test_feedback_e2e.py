"""Acceptance: serve -> requests -> corrections -> improve -> promoted by the rule -> the same server
answers with the new version -> rollback restores the old one. Tiny models, real server app."""

from __future__ import annotations

import json
import random

from fastapi.testclient import TestClient
from sqlalchemy import select

from tunesmith.config import parse_config
from tunesmith.data import load_prepared, prepare
from tunesmith.feedback import import_feedback, open_project_store, production_version, promote, rollback
from tunesmith.feedback.improve import improve
from tunesmith.feedback.schema import RequestLog
from tunesmith.feedback.serving import create_production_app
from tunesmith.project import Project
from tunesmith.train import train

WORDS = ["brake", "chain", "gear", "saddle", "pedal", "wheel", "tyre", "spoke", "frame", "fork", "helmet", "light",
         "bell", "lock", "pump", "rack", "basket", "mudguard", "crank", "hub", "valve", "cable", "lever", "shifter",
         "stem", "bar", "grip", "bottle", "kickstand", "reflector"]
WRONG, RIGHT = "no idea sorry", "ask the bike shop team"


def chat(question: str, answer: str) -> dict:
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}


def make_project(root, model_dir):
    """Production learns a useless answer; the held-out test expects the answer users will correct to."""
    rng = random.Random(0)
    questions = iter(" ".join(rng.sample(WORDS, 6)) + "?" for _ in range(200))
    (root / "train.jsonl").write_text("".join(json.dumps(chat(next(questions), WRONG)) + "\n" for _ in range(24)))
    (root / "test.jsonl").write_text("".join(json.dumps(chat(next(questions), RIGHT)) + "\n" for _ in range(12)))
    config = parse_config({
        "name": "bikes", "model": {"name": str(model_dir), "max_length": 64}, "method": {"name": "full"},
        "data": {"sources": [{"path": "train.jsonl", "split": "train"}, {"path": "test.jsonl", "split": "test"}]},
        "training": {"max_steps": 40, "learning_rate": 5e-3, "batch_size": 8, "eval_every": 1000,
                     "warmup_ratio": 0.0, "scheduler": "constant"},
        "evaluation": {"max_new_tokens": 8, "perplexity": False, "baselines": False, "bootstrap_samples": 200},
        "serve": {"max_batch_size": 4, "batch_window_ms": 0},
        "feedback": {"log_requests": True, "production_ttl_seconds": 0}})
    return Project.create(root, config), questions


def ask(client, question: str) -> dict:
    reply = client.post("/v1/chat/completions", json={
        "model": "bikes", "temperature": 0, "max_tokens": 12, "messages": [{"role": "user", "content": question}]})
    assert reply.status_code == 200, reply.text
    return reply.json()


def logged_version(store, response_id: str) -> int | None:
    with store.session() as session:
        return session.scalars(select(RequestLog.model_version_id).where(RequestLog.id == response_id)).one()


def test_feedback_loop_end_to_end(tmp_path, tiny_lm_dir):
    project, questions = make_project(tmp_path, tiny_lm_dir)
    dataset = prepare(project)
    store = open_project_store(project)
    first = promote(store, train(project, dataset).run_dir)

    with TestClient(create_production_app(project, store=store)) as client:
        answers = [ask(client, next(questions)) for _ in range(3)]
        assert all(WRONG in a["choices"][0]["message"]["content"] for a in answers)
        assert {logged_version(store, a["id"]) for a in answers} == {first.id}
        for answer in answers:
            posted = client.post("/v1/feedback", json={"response_id": answer["id"], "rating": "down",
                                                       "correction": RIGHT.capitalize() + "."})
            assert posted.status_code == 201 and posted.json()["usable_for_training"]
        more = tmp_path / "support-tickets.jsonl"
        more.write_text("".join(json.dumps({"prompt": next(questions), "correction": RIGHT, "rating": 1}) + "\n"
                                for _ in range(37)))
        assert import_feedback(store, more) == 37

        result = improve(project, store)
        assert result.outcome == "promoted", result.reason
        decision = result.decision
        assert decision.difference >= store.settings.promotion_margin and decision.p_value < store.settings.significance
        candidate = production_version(store)
        assert candidate.id == result.candidate.id != first.id
        assert (candidate.parent_id, candidate.dataset_version) == (first.id, result.dataset_version)
        new_data, old_data = load_prepared(tmp_path / "data" / result.dataset_version), dataset
        assert (new_data.path / "test.parquet").read_bytes() == (old_data.path / "test.parquet").read_bytes()
        assert len(new_data.split("train")) == len(old_data.split("train")) + 40

        # Nothing new to learn: a second run keeps production without retraining.
        again = improve(project, store)
        assert again.outcome == "skipped" and again.candidate is None and "already_in_train" in again.reason
        assert production_version(store).id == candidate.id

        # The same server, not restarted, now answers with the promoted version...
        improved = ask(client, next(questions))
        assert "bike shop" in improved["choices"][0]["message"]["content"].lower()
        assert logged_version(store, improved["id"]) == candidate.id
        # ...and a rollback puts the old one back.
        assert rollback(store).id == first.id
        restored = ask(client, next(questions))
        assert WRONG in restored["choices"][0]["message"]["content"]
        assert logged_version(store, restored["id"]) == first.id

    # The same win, judged against a margin nobody can reach, is rejected and production stays.
    store.settings = store.settings.model_copy(update={"promotion_margin": 2.0})
    rejected = improve(project, store)
    assert rejected.outcome == "kept" and "margin 2" in rejected.reason
    assert rejected.decision.p_value < store.settings.significance
    assert production_version(store).id == first.id
    assert rejected.candidate.stage == "candidate" and rejected.candidate.scores["metric"] == decision.metric
