"""tunesmith's pooled embeddings equal sentence-transformers', and an exported folder loads with it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tunesmith.embeddings.encoder import SentenceEncoder, folder_normalizes, folder_pooling
from tunesmith.embeddings.export import read_embedding_settings, write_sentence_transformers

TEXTS = ["where is my parcel", "a much longer sentence about resetting the password of an account", "hi"]


@pytest.fixture(scope="module")
def tiny(tiny_encoder_dir):
    from transformers import AutoModel, AutoTokenizer

    return AutoModel.from_pretrained(tiny_encoder_dir).eval(), AutoTokenizer.from_pretrained(tiny_encoder_dir)


def test_mean_pooling_equals_sentence_transformers(st_model, tiny):
    model, tokenizer = tiny
    ours = SentenceEncoder(model, tokenizer, "mean", True).encode(TEXTS, batch_size=2)
    theirs = st_model.encode(TEXTS, batch_size=3)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("pooling", "normalize"), [("mean", True), ("cls", False), ("max", True)])
def test_export_loads_with_sentence_transformer(tmp_path, tiny, pooling, normalize):
    from sentence_transformers import SentenceTransformer

    model, tokenizer = tiny
    encoder = SentenceEncoder(model, tokenizer, pooling, normalize, max_length=64, matryoshka_dims=(32, 16))
    folder = write_sentence_transformers(encoder, tmp_path / "st")
    loaded = SentenceTransformer(str(folder), device="cpu")
    np.testing.assert_allclose(loaded.encode(TEXTS), encoder.encode(TEXTS), rtol=1e-5, atol=1e-6)
    assert loaded.max_seq_length == 64
    assert folder_pooling(folder) == pooling and folder_normalizes(folder) is normalize
    assert read_embedding_settings(folder)["matryoshka_dims"] == [32, 16]
    assert not any(folder.glob("*.bin")) and (folder / "model.safetensors").exists()
    assert json.loads((folder / "modules.json").read_text())[0]["type"].endswith("Transformer")


def test_bundled_minilm_pooling_is_read_from_its_folder():
    from tunesmith.models.catalog import resolve

    path = resolve("minilm-l6").path
    assert folder_pooling(path) == "mean" and folder_normalizes(path) is True


def test_truncated_dimensions_are_renormalized(tiny):
    model, tokenizer = tiny
    vectors = SentenceEncoder(model, tokenizer).encode(TEXTS, dimensions=8)
    assert vectors.shape == (3, 8)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
