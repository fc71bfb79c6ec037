"""tunesmith's embedding losses equal sentence-transformers' on identical inputs: values and gradients."""

from __future__ import annotations

import pytest
import torch

from tunesmith.embeddings.encoder import embed_tokens
from tunesmith.embeddings.losses import (
    cached_loss,
    cosent_loss_sum,
    cosine_loss_sum,
    embed_chunked,
    matryoshka,
    ranking_loss_sum,
)

QUERIES = ["how do I reset my password", "where is my order", "can I pay by card", "what are your hours",
           "do you ship abroad", "how to cancel a subscription"]
DOCS = ["Reset it from the login page.", "Track orders under My Orders.", "We accept all major cards.",
        "We are open 9 to 5 on weekdays.", "We ship to 40 countries.", "Cancel any time in Settings."]
NEGS = ["Our office is in Berlin.", "Gift cards never expire.", "Returns take 14 days.",
        "Call us on weekends.", "Prices include VAT.", "We plant a tree per order."]


def _features(st_model, texts):
    return st_model.tokenize(texts)


def _ours(st_model, features):
    encoder = st_model[0].auto_model
    return embed_tokens(encoder, features["input_ids"], features["attention_mask"], "mean", True)


def _grads(model):
    return [p.grad.clone() for p in model.parameters() if p.grad is not None]


def _compare(st_model, st_loss, labels, columns, ours):
    """Run sentence-transformers' loss and ours on the same features; return (values, gradients) of both."""
    features = [_features(st_model, texts) for texts in columns]
    st_model.zero_grad()
    theirs = st_loss(features, labels)
    theirs.backward()
    their_grads = _grads(st_model)
    st_model.zero_grad()
    mine = ours(features)
    mine.backward()
    return float(theirs.detach()), float(mine.detach()), their_grads, _grads(st_model)


def _assert_same(values):
    theirs, mine, their_grads, my_grads = values
    assert mine == pytest.approx(theirs, rel=1e-5, abs=1e-6)
    assert len(their_grads) == len(my_grads) > 0
    for a, b in zip(their_grads, my_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("with_negatives", [False, True])
def test_ranking_loss_equals_multiple_negatives_ranking_loss(st_model, with_negatives):
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    columns = [QUERIES, DOCS, NEGS] if with_negatives else [QUERIES, DOCS]

    def ours(features):
        embs = [_ours(st_model, f) for f in features]
        return ranking_loss_sum(embs[0], embs[1], embs[2] if with_negatives else None, 20.0) / len(QUERIES)

    _assert_same(_compare(st_model, MultipleNegativesRankingLoss(st_model), None, columns, ours))


@pytest.mark.parametrize("name", ["cosent", "cosine"])
def test_scored_pair_losses_equal_sentence_transformers(st_model, name):
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss, CosineSimilarityLoss

    scores = torch.tensor([0.9, 0.1, 0.5, 0.5, 1.0, 0.0])
    reference = CoSENTLoss(st_model) if name == "cosent" else CosineSimilarityLoss(st_model)

    def ours(features):
        a, b = (_ours(st_model, f) for f in features)
        total = cosent_loss_sum(a, b, scores) if name == "cosent" else cosine_loss_sum(a, b, scores)
        return total / len(scores)

    _assert_same(_compare(st_model, reference, scores, [QUERIES, DOCS], ours))


def test_matryoshka_equals_matryoshka_loss(st_model):
    from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss, MultipleNegativesRankingLoss

    dims = [32, 16, 8]
    reference = MatryoshkaLoss(st_model, MultipleNegativesRankingLoss(st_model), dims)

    def ours(features):
        embs = [_ours(st_model, f) for f in features]
        return matryoshka(lambda e: ranking_loss_sum(e[0], e[1]), embs, dims) / len(QUERIES)

    _assert_same(_compare(st_model, reference, None, [QUERIES, DOCS], ours))


@pytest.mark.parametrize("chunk", [1, 2, 4])
def test_gradcache_equals_cached_multiple_negatives_ranking_loss(st_model, chunk):
    """The cached loss's value and parameter gradients equal sentence-transformers' CachedMNRL and the
    uncached loss, whatever the chunk size (the encoder only ever sees `chunk` texts at once)."""
    from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss

    encoder = st_model[0].auto_model
    seen: list[int] = []

    def embed(ids, mask):
        seen.append(len(ids))
        return embed_tokens(encoder, ids, mask, "mean", True)

    def ours(features):
        columns = [(f["input_ids"], f["attention_mask"]) for f in features]
        total = cached_loss(embed, columns, chunk, lambda e: ranking_loss_sum(e[0], e[1], e[2]))
        return total / len(QUERIES)  # the loop divides by the step's query count: the hook gets the scale

    reference = CachedMultipleNegativesRankingLoss(st_model, mini_batch_size=chunk, show_progress_bar=False)
    values = _compare(st_model, reference, None, [QUERIES, DOCS, NEGS], ours)
    _assert_same(values)
    assert max(seen) == chunk

    def plain(features):
        embs = [embed_chunked(embed, f["input_ids"], f["attention_mask"], 64) for f in features]
        return ranking_loss_sum(*embs) / len(QUERIES)

    _assert_same(_compare(st_model, reference, None, [QUERIES, DOCS, NEGS], plain))


def test_gradcache_replays_dropout(tiny_encoder_dir):
    """In train mode the re-run draws the same dropout masks as the cached pass: gradients equal an
    uncached pass that consumes the random stream the same way (chunk by chunk, column by column)."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_encoder_dir)
    model = AutoModel.from_pretrained(tiny_encoder_dir, hidden_dropout_prob=0.3).train()
    columns = [tokenizer(texts, padding=True, return_tensors="pt") for texts in (QUERIES, DOCS)]
    pairs = [(c["input_ids"], c["attention_mask"]) for c in columns]

    def embed(ids, mask):
        return embed_tokens(model, ids, mask, "mean", True)

    torch.manual_seed(3)
    model.zero_grad()
    plain = ranking_loss_sum(*[embed_chunked(embed, i, m, 2) for i, m in pairs])
    plain.backward()
    expected = _grads(model)
    torch.manual_seed(3)
    model.zero_grad()
    cached = cached_loss(embed, pairs, 2, lambda e: ranking_loss_sum(e[0], e[1]))
    cached.backward()
    assert float(cached.detach()) == pytest.approx(float(plain.detach()), rel=1e-6)
    for a, b in zip(expected, _grads(model), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
