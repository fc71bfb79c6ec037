"""Retrieval metrics on hand-worked rankings, top-k against a full sort, and the BM25 baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunesmith.evaluate.retrieval import (
    RetrievalContender,
    RetrievalSet,
    bm25_ranker,
    query_scores,
    score_retrieval,
    top_k,
)


def test_one_relevant_document_at_rank_three():
    scores = query_scores([7, 4, 2, 9, 1, 0, 3, 5, 6, 8, 11], {2: 1.0})
    assert scores["recall@1"] == 0.0
    assert scores["recall@5"] == scores["recall@10"] == 1.0
    assert scores["mrr@10"] == pytest.approx(1 / 3)
    assert scores["ndcg@10"] == pytest.approx(1 / math.log2(4))


def test_two_graded_documents():
    # relevant: 5 (grade 2) at rank 2, 8 (grade 1) at rank 12 (outside the top 10)
    ranking = [0, 5, 1, 2, 3, 4, 6, 7, 9, 10, 11, 8]
    scores = query_scores(ranking, {5: 2.0, 8: 1.0})
    assert scores["recall@1"] == 0.0
    assert scores["recall@5"] == scores["recall@10"] == 0.5
    assert scores["mrr@10"] == 0.5
    ideal = 2 / math.log2(2) + 1 / math.log2(3)
    assert scores["ndcg@10"] == pytest.approx((2 / math.log2(3)) / ideal)


def test_no_relevant_document_is_not_a_zero():
    assert all(math.isnan(v) for v in query_scores([1, 2], {}).values())


def test_top_k_matches_a_full_sort_with_ties_by_index():
    rng = np.random.default_rng(0)
    queries, docs = rng.normal(size=(37, 8)), rng.normal(size=(200, 8))
    docs[50] = docs[10]  # an exact tie: the lower index wins
    got = top_k(queries, docs, 10, block=8)
    scores = queries @ docs.T
    expected = np.array([sorted(range(200), key=lambda j, r=row: (-r[j], j))[:10] for row in scores])
    np.testing.assert_array_equal(got, expected)
    assert top_k(queries[:2], docs[:3], 10).shape == (2, 3)


def test_bm25_finds_the_document_sharing_rare_words():
    docs = ["Shipping takes three days within Germany.", "Refunds are issued to the original card.",
            "Passwords can be reset from the login page.", "Our office dog is called Bruno."]
    ranked = bm25_ranker(["how do I reset my password", "when do refunds arrive", "dog name"], docs, 10)
    assert [int(r[0]) for r in ranked] == [2, 1, 3]


def test_score_retrieval_gives_per_query_scores_and_corpus_means():
    data = RetrievalSet(["q0", "q1"], ["d0", "d1", "d2"], [{0: 1.0}, {2: 1.0}])
    contender = RetrievalContender("fixed", lambda q, d, k: np.array([[0, 1, 2], [1, 2, 0]]))
    result = score_retrieval(data, contender)
    assert result.per_item["recall@1"] == [1.0, 0.0]
    assert result.per_item["mrr@10"] == [1.0, 0.5]
    assert result.corpus["recall@1"] == 0.5
    assert result.outputs == ["d0", "d1"]
