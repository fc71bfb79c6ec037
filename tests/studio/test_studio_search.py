"""The studio for a search model (objective.task: embedding): the Objective page offers it, the Data page shows
a (query, positive) example, the Evaluate page's table shows retrieval scores and its side-by-side box ranks the
dataset's documents with the base encoder and with the fine-tuned run."""

from __future__ import annotations

import json
import random

from tunesmith.config import ProjectConfig
from tunesmith.models.catalog import CATALOG
from tunesmith.project import Project
from tunesmith.studio import playground
from tunesmith.studio.context import StudioContext
from tunesmith.studio.pages import data, evaluate, objective

TOPICS = {"refund": "Refunds are paid back within five days", "shipping": "Parcels travel for two days",
          "password": "Reset the password from the login page", "warranty": "Frames carry a five year warranty"}
WORDS = ["please", "help", "me", "with", "question", "about", "now", "today", "my", "tell", "quick", "info"]


def search_pairs(per_topic: int = 8) -> list[dict]:
    rng = random.Random(0)
    rows = []
    for topic, document in TOPICS.items():
        queries: set[str] = set()
        while len(queries) < per_topic:
            queries.add(" ".join(rng.sample([topic, *rng.sample(WORDS, 3)], 4)))
        rows += [{"query": q, "positive": document} for q in sorted(queries)]
    return rows


def test_the_objective_page_offers_search_with_an_encoder(tmp_path):
    assert "embedding" in [value for _, value in objective.TASK_CHOICES]
    project = objective.write_objective(StudioContext(tmp_path), "faq", "embedding", "Find the FAQ entry", "", "")
    assert project.config.objective.task == "embedding"
    assert CATALOG[project.config.model.name].kind == "encoder"
    assert '"query"' in data.empty_state("embedding") and '"positive"' in data.empty_state("embedding")


def test_evaluate_shows_retrieval_scores_and_searches_side_by_side(tmp_path, tiny_encoder_dir):
    from tunesmith.data.prepare import prepare
    from tunesmith.evaluate import compare
    from tunesmith.train.run import train

    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in search_pairs()), encoding="utf-8")
    config = ProjectConfig.model_validate({
        "objective": {"task": "embedding"}, "model": {"name": str(tiny_encoder_dir), "max_length": 32},
        "method": {"name": "full"}, "data": {"sources": [{"path": "pairs.jsonl"}], "test_share": 0.25,
                                             "validation_share": 0.0, "near_duplicates": "off"},
        "training": {"epochs": 3, "batch_size": 8, "learning_rate": 3e-3, "eval_every": 100, "seed": 0},
        "evaluation": {"bootstrap_samples": 200}})
    project = Project.create(tmp_path, config)
    dataset = prepare(project)
    run_dir = train(project, dataset).run_dir

    headers, rows = evaluate.comparison_table(compare(project, dataset, [run_dir]))
    assert headers[2].startswith("recall@1") and any(h.startswith("mrr@10") for h in headers)
    assert run_dir.name in [row[0] for row in rows] and all(row[2] for row in rows)

    found = playground.search(project, dataset, run_dir, "refund please help me")
    for side in (found.base, found.tuned):
        lines = side.splitlines()
        assert len(lines) == playground.SEARCH_RESULTS and lines[0].startswith("1. (")
        assert {line.split(") ", 1)[1] for line in lines} <= set(TOPICS.values())
