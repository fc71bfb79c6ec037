"""Acceptance: corrections of served answers become pairs and `improve` trains DPO on top of the production model
(its reference), ratings alone train KTO; the gate is unchanged. Tiny models, the real server app."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from test_feedback_e2e import RIGHT, WRONG, ask, make_project

from tunesmith.config import apply_overrides
from tunesmith.data import load_prepared, prepare
from tunesmith.feedback import import_feedback, open_project_store, production_version, promote
from tunesmith.feedback.improve import improve
from tunesmith.feedback.serving import create_production_app
from tunesmith.project import Project
from tunesmith.runs import RunFolder
from tunesmith.train import train


def _start_of(run_dir: Path) -> Path:
    """The run its candidate started from: model.name is an hf export of that run (export.json says which)."""
    start = Path(RunFolder(run_dir).config().model.name)
    return Path(json.loads((start / "export.json").read_text())["run_dir"])


def test_corrections_of_served_answers_train_dpo_on_top_of_production(tmp_path, tiny_lm_dir):
    project, questions = make_project(tmp_path, tiny_lm_dir)
    # Corrections are answers the model would not write yet: keep them likely, not only likelier (RPO). A tiny
    # random model needs its SFT rate and more epochs to learn a new answer at all.
    project = Project(project.root, apply_overrides(project.config, [
        "preference.dpo.sft_weight=1.0", "feedback.preference_learning_rate_multiplier=1.0", "training.epochs=8"]))
    dataset = prepare(project)
    store = open_project_store(project)
    first = promote(store, train(project, dataset).run_dir)

    with TestClient(create_production_app(project, store=store)) as client:
        for _ in range(3):  # the served answer is logged: a correction of it is a pair
            served = ask(client, next(questions))
            assert client.post("/v1/feedback", json={"response_id": served["id"], "rating": "down",
                                                     "correction": RIGHT}).status_code == 201
    more = tmp_path / "reviewed.jsonl"  # answers reviewed elsewhere, imported with the answer they correct
    more.write_text("".join(json.dumps({"prompt": next(questions), "answer": WRONG, "correction": RIGHT}) + "\n"
                            for _ in range(37)))
    import_feedback(store, more)

    result = improve(project, store)
    assert result.objective == "dpo" and result.objective_reason.startswith("objective dpo (auto)")
    assert "40 correction(s) of a known answer" in result.objective_reason
    candidate = Path(result.candidate.run_path)
    assert RunFolder(candidate).info().objective == "dpo"
    assert _start_of(candidate) == Path(first.run_path).resolve()  # the reference is the production model
    pairs = load_prepared(tmp_path / "data" / result.dataset_version).split("train")
    assert len(pairs) == 40 and all(p["messages"][-1]["content"] == RIGHT and WRONG in p["rejected"] for p in pairs)
    # the same gate as sft: the untouched test split, the margin and a significant paired test
    assert result.outcome == "promoted", result.reason
    assert result.decision.difference >= store.settings.promotion_margin
    assert result.decision.p_value < store.settings.significance
    assert production_version(store).id == result.candidate.id


def test_ratings_without_corrections_train_kto(tmp_path, tiny_lm_dir):
    project, questions = make_project(tmp_path, tiny_lm_dir)
    store = open_project_store(project)
    first = promote(store, train(project, prepare(project)).run_dir)
    ratings = tmp_path / "ratings.jsonl"
    ratings.write_text("".join(json.dumps({"prompt": next(questions), "answer": answer, "rating": rating}) + "\n"
                               for answer, rating in [(WRONG, "down")] * 20 + [(RIGHT, "up")] * 20))
    import_feedback(store, ratings)

    result = improve(project, store)
    assert result.objective == "kto" and result.objective_reason.startswith("objective kto (auto)")
    candidate = Path(result.candidate.run_path)
    assert RunFolder(candidate).info().objective == "kto" and _start_of(candidate) == Path(first.run_path).resolve()
    rated = load_prepared(tmp_path / "data" / result.dataset_version).split("train")
    assert len(rated) == 40 and {(r["messages"][-1]["content"], r["desirable"]) for r in rated} == {
        (WRONG, False), (RIGHT, True)}
    assert result.outcome in ("promoted", "kept") and result.decision is not None
