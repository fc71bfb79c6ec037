"""`tunesmith quickstart --task embedding`: the FAQ search example, on a tiny encoder and on minilm-l6."""

from __future__ import annotations

import pytest

from tunesmith.config import load_config
from tunesmith.errors import TunesmithError
from tunesmith.quickstart.embedding import faq_documents, faq_pairs
from tunesmith.quickstart.run import EMBEDDING_RECIPE, create_project, run_quickstart


def test_the_faq_is_paraphrased_queries_of_each_document():
    pairs = faq_pairs()
    documents = set(faq_documents().values())
    assert {p["positive"] for p in pairs} == documents and len(documents) >= 12
    assert len({p["query"] for p in pairs}) == len(pairs)  # every query is its own phrasing
    assert faq_pairs() == pairs  # deterministic


def test_quickstart_embedding_pipeline_on_a_tiny_encoder(tmp_path, tiny_encoder_dir):
    result = run_quickstart(tmp_path / "qs", fast=True, task="embedding",
                            overrides=[f"model.name={tiny_encoder_dir}", "training.max_steps=2"])
    assert load_config(tmp_path / "qs").name == EMBEDDING_RECIPE["name"]
    assert [row.name for row in result.comparison.rows] == ["BM25", "base encoder", result.run_dir.name]
    assert result.comparison.primary == "recall@1" and result.comparison.report_html.exists()
    with pytest.raises(TunesmithError, match="holds the embedding quickstart, not the chat one"):
        create_project(tmp_path / "qs", "chat")


@pytest.mark.slow
def test_quickstart_embedding_beats_the_base_encoder_and_bm25(tmp_path):
    import torch

    torch.set_num_threads(2)
    comparison = run_quickstart(tmp_path / "qs", fast=True, task="embedding").comparison
    tuned = next(row for row in comparison.rows if row.kind == "run")
    for baseline in ("base encoder", "BM25"):
        test = next(t for t in comparison.tests if t.a == tuned.name and t.b == baseline and t.metric == "recall@1")
        assert test.significant and test.difference.low > 0, comparison.verdict
