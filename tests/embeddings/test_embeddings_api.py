"""`POST /v1/embeddings` on its own app: OpenAI's request and response shapes, refusals, batching, the client."""

from __future__ import annotations

import base64
import threading

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tunesmith.embeddings.encoder import SentenceEncoder
from tunesmith.embeddings.export import write_sentence_transformers
from tunesmith.embeddings.load import load_embedder
from tunesmith.serve.embedding_batcher import EmbeddingBatcher
from tunesmith.serve.embeddings import attach_embeddings
from tunesmith.serve.errors import install_error_handlers

TEXTS = ["where is my parcel", "how do I reset my password", "refund please"]


@pytest.fixture(scope="module")
def matryoshka_dir(tiny_encoder_dir, tmp_path_factory):
    encoder = load_embedder(tiny_encoder_dir)
    encoder.matryoshka_dims = (32, 16, 8)
    return write_sentence_transformers(encoder, tmp_path_factory.mktemp("mrl") / "export")


@pytest.fixture(scope="module")
def app(tiny_encoder_dir, matryoshka_dir):
    app = FastAPI()
    install_error_handlers(app)
    batcher = attach_embeddings(app, {"tiny": str(tiny_encoder_dir), "tiny-mrl": str(matryoshka_dir)})
    yield app
    batcher.stop()


@pytest.fixture(scope="module")
def client(app):
    return TestClient(app)


@pytest.fixture(scope="module")
def reference(tiny_encoder_dir) -> SentenceEncoder:
    return load_embedder(tiny_encoder_dir)


def test_a_string_and_a_list_give_openai_shaped_embeddings(client, reference):
    one = client.post("/v1/embeddings", json={"model": "tiny", "input": TEXTS[0]}).json()
    assert one["object"] == "list" and one["model"] == "tiny"
    assert [d["index"] for d in one["data"]] == [0] and one["data"][0]["object"] == "embedding"
    np.testing.assert_allclose(one["data"][0]["embedding"], reference.encode(TEXTS[:1])[0], rtol=1e-5, atol=1e-6)
    tokens = sum(len(x) for x in reference.tokenizer(TEXTS)["input_ids"])
    many = client.post("/v1/embeddings", json={"model": "tiny", "input": TEXTS}).json()
    assert [d["index"] for d in many["data"]] == [0, 1, 2]
    assert many["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}
    np.testing.assert_allclose([d["embedding"] for d in many["data"]], reference.encode(TEXTS), rtol=1e-5, atol=1e-6)


def test_base64_is_little_endian_float32(client):
    floats = client.post("/v1/embeddings", json={"model": "tiny", "input": TEXTS}).json()["data"]
    packed = client.post("/v1/embeddings", json={"model": "tiny", "input": TEXTS,
                                                 "encoding_format": "base64"}).json()["data"]
    for f, p in zip(floats, packed, strict=True):
        np.testing.assert_allclose(np.frombuffer(base64.b64decode(p["embedding"]), dtype="<f4"), f["embedding"],
                                   rtol=1e-6)


def test_dimensions_only_for_matryoshka_models(client):
    refused = client.post("/v1/embeddings", json={"model": "tiny", "input": "hi", "dimensions": 8})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "dimensions"
    assert "Matryoshka" in refused.json()["error"]["message"]
    full = client.post("/v1/embeddings", json={"model": "tiny", "input": "hi", "dimensions": 32})
    assert full.status_code == 200 and len(full.json()["data"][0]["embedding"]) == 32
    short = client.post("/v1/embeddings", json={"model": "tiny-mrl", "input": TEXTS, "dimensions": 16}).json()
    whole = client.post("/v1/embeddings", json={"model": "tiny-mrl", "input": TEXTS}).json()
    for s, w in zip(short["data"], whole["data"], strict=True):
        vector = np.array(s["embedding"])
        assert len(vector) == 16 and np.linalg.norm(vector) == pytest.approx(1.0, rel=1e-5)
        prefix = np.array(w["embedding"][:16])
        np.testing.assert_allclose(vector, prefix / np.linalg.norm(prefix), rtol=1e-4, atol=1e-6)
    too_many = client.post("/v1/embeddings", json={"model": "tiny-mrl", "input": "hi", "dimensions": 33})
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "dimensions"


@pytest.mark.parametrize(("body", "param", "status"), [
    ({"model": "tiny", "input": []}, "input", 400),
    ({"model": "tiny", "input": ["ok", ""]}, "input", 400),
    ({"model": "tiny", "input": [101, 2023]}, "input", 400),
    ({"model": "tiny", "input": "hi", "encoding_format": "int8"}, "encoding_format", 400),
    ({"model": "tiny", "input": "hi", "dimensions": 0}, "dimensions", 400),
    ({"model": "nope", "input": "hi"}, "model", 404),
    ({"model": "tiny", "input": "word " * 600}, "input", 400),
])
def test_bad_requests_get_one_clear_error(client, body, param, status):
    response = client.post("/v1/embeddings", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["message"]


def test_requests_from_many_clients_share_a_forward(tiny_encoder_dir, reference):
    """Requests that wait while the worker is busy are encoded together: 9 requests, at most 2 batches,
    each answer equal to encoding it alone."""
    release = threading.Event()
    loaded = load_embedder(tiny_encoder_dir)

    def slow_load(model_id):
        release.wait(timeout=60)
        return loaded

    batcher = EmbeddingBatcher(slow_load, max_texts=64, window_ms=0)
    futures = [batcher.submit("tiny", [f"question number {i}", "shared text"]) for i in range(9)]
    release.set()
    results = [f.result(timeout=60) for f in futures]
    batcher.stop()
    assert batcher.stats.requests == 9 and batcher.stats.batches <= 2
    for i, result in enumerate(results):
        np.testing.assert_allclose(result.vectors, reference.encode([f"question number {i}", "shared text"]),
                                   rtol=1e-5, atol=1e-6)


def test_a_lone_client_is_answered_at_once_and_returning_clients_are_batched_together(reference):
    """Adaptive batching, no clock involved: the collection window is 10 minutes, so any batch that waited for
    it would miss the 60 s result deadline. A lone request goes at once. Requests queued behind a running batch
    wait for its client to come back, then go together (not as alternating halves); a crowd of four goes as one."""
    entered, release = threading.Event(), threading.Event()
    sizes = []

    class Spy:
        tokenizer, max_length = reference.tokenizer, reference.max_length

        def encode_ids(self, ids, batch_size=64, dimensions=None):
            sizes.append(len(ids))
            return reference.encode_ids(ids, batch_size, dimensions)

    def gated_load(model_id):
        entered.set()
        release.wait(timeout=60)
        return Spy()

    batcher = EmbeddingBatcher(gated_load, max_texts=64, window_ms=600_000)
    try:
        lone = batcher.submit("tiny", ["alone"])
        assert entered.wait(timeout=60)  # the worker took it without waiting for company, and is loading
        queued = [batcher.submit("tiny", [f"queued {i}"]) for i in range(3)]
        release.set()
        lone.result(timeout=60)
        returning = batcher.submit("tiny", ["alone again"])
        [f.result(timeout=60) for f in [*queued, returning]]
        crowd = [batcher.submit("tiny", [f"crowd {i}"]) for i in range(4)]
        [f.result(timeout=60) for f in crowd]
    finally:
        release.set()
        batcher.stop()
    assert sizes == [1, 4, 4]


def test_requests_left_over_by_a_batch_go_next_without_waiting(reference):
    """A batch holds one model's requests; the others have waited through it and go next at once (the window is
    10 minutes: waiting for it would miss the 60 s result deadline)."""
    entered, release = threading.Event(), threading.Event()
    batches = []

    class Spy:
        tokenizer, max_length = reference.tokenizer, reference.max_length

        def __init__(self, name):
            self.name = name

        def encode_ids(self, ids, batch_size=64, dimensions=None):
            batches.append((self.name, len(ids)))
            return reference.encode_ids(ids, batch_size, dimensions)

    def gated_load(model_id):
        entered.set()
        release.wait(timeout=60)
        return Spy(model_id)

    batcher = EmbeddingBatcher(gated_load, max_texts=64, window_ms=600_000)
    try:
        first = batcher.submit("a", ["first"])
        assert entered.wait(timeout=60)
        queued = [batcher.submit("b", ["other model"]), batcher.submit("a", ["a again"])]
        release.set()
        first.result(timeout=60)
        returning = batcher.submit("a", ["first's client is back"])
        [f.result(timeout=60) for f in [*queued, returning]]
    finally:
        release.set()
        batcher.stop()
    assert batches == [("a", 1), ("b", 1), ("a", 2)]


def test_a_batch_never_exceeds_max_texts(reference):
    batcher = EmbeddingBatcher(lambda _: reference, max_texts=4, window_ms=0)
    sizes = []
    original = reference.encode_ids

    def spy(ids, batch_size=64, dimensions=None):
        sizes.append(len(ids))
        return original(ids, batch_size, dimensions)

    reference.encode_ids = spy
    try:
        futures = [batcher.submit("tiny", ["a", "b", "c"]) for _ in range(5)]
        [f.result(timeout=60) for f in futures]
    finally:
        del reference.encode_ids
        batcher.stop()
    assert sum(sizes) == 15 and max(sizes) <= 4


def test_openai_client_embeddings_create_works_unchanged(app, reference):
    import openai

    client = openai.OpenAI(base_url="http://testserver/v1", api_key="unused", max_retries=0,
                           http_client=TestClient(app))
    response = client.embeddings.create(model="tiny", input=TEXTS)  # the client asks for base64 by default
    np.testing.assert_allclose([d.embedding for d in response.data], reference.encode(TEXTS), rtol=1e-5, atol=1e-6)
    assert response.usage.prompt_tokens > 0
    as_floats = client.embeddings.create(model="tiny-mrl", input="hi", encoding_format="float", dimensions=8)
    assert len(as_floats.data[0].embedding) == 8
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="tiny", input="hi", dimensions=8)
