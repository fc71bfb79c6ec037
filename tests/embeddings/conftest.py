"""Fixtures for embedding tests: the tiny encoder as a sentence-transformers model, and a synthetic corpus."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def st_model(tiny_encoder_dir):
    """sentence-transformers' own model over the tiny encoder (mean pooling + normalize), in eval mode."""
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(str(tiny_encoder_dir))
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    return SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu").eval()
