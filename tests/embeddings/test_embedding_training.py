"""Embedding training end to end on the tiny encoder: held-out recall@1 rises, `tunesmith eval` reports it
against BM25 and the base encoder, the export loads with SentenceTransformer, embed() serves the run."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from tunesmith.config import ProjectConfig
from tunesmith.project import Project

# queries name a topic by one word, documents by another: no shared words, so neither BM25 nor an untrained
# encoder can match them; the pairs teach which goes with which, and held-out queries use new fillers
TOPICS = ["apple", "river", "guitar", "planet", "window", "tiger", "pencil", "castle", "rocket", "garden",
          "island", "doctor"]
DOCUMENTS = ["invoice", "battery", "shipping", "warranty", "password", "refund", "account", "delivery",
             "coupon", "address", "payment", "order"]
FILLERS = ["please", "help", "me", "with", "question", "about", "now", "today", "quick", "need", "info", "my",
           "some", "tell", "explain", "details"]


def synthetic_pairs(per_topic: int = 10, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for topic, document in zip(TOPICS, DOCUMENTS, strict=True):
        queries: set[str] = set()
        while len(queries) < per_topic:
            words = [topic, *rng.sample(FILLERS, 3)]
            rng.shuffle(words)
            queries.add(" ".join(words))
        rows += [{"query": q, "positive": f"{document} policy page"} for q in sorted(queries)]
    rng.shuffle(rows)
    return rows


@pytest.fixture(scope="module")
def trained(tiny_encoder_dir, tmp_path_factory):
    from tunesmith.data.prepare import prepare
    from tunesmith.train.run import train

    root = tmp_path_factory.mktemp("embedding-project")
    (root / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in synthetic_pairs()), encoding="utf-8")
    config = ProjectConfig.model_validate({
        "objective": {"task": "embedding"}, "model": {"name": str(tiny_encoder_dir), "max_length": 32},
        "method": {"name": "full"},
        "data": {"sources": [{"path": "pairs.jsonl"}], "test_share": 0.3, "validation_share": 0.1,
                 "near_duplicates": "off"},
        # batch 32 > cache_batch_size 8: the GradCache path trains
        "embedding": {"cache_batch_size": 8},
        "training": {"epochs": 12, "batch_size": 32, "learning_rate": 3e-3, "eval_every": 10, "seed": 0},
        "evaluation": {"bootstrap_samples": 500}})
    project = Project.create(root, config)
    dataset = prepare(project)
    result = train(project, dataset)
    return project, dataset, result.run_dir


def test_recall_at_1_rises_on_held_out_queries(trained):
    from tunesmith.evaluate.compare import compare

    project, dataset, run_dir = trained
    comparison = compare(project, dataset, [run_dir])
    scores = {r.name: r.corpus for r in comparison.results}
    assert set(scores) == {"BM25", "base encoder", run_dir.name}
    assert comparison.primary == "recall@1"
    base, tuned = scores["base encoder"]["recall@1"], scores[run_dir.name]["recall@1"]
    assert tuned >= base + 0.3, scores  # measured: 0.11 -> 0.67 (BM25 0.14: no shared words)
    test = next(t for t in comparison.tests if t.metric == "recall@1" and t.b == "base encoder")
    assert test.significant and test.difference.low > 0
    assert comparison.verdict.startswith("Fine-tuning beat the base encoder and BM25 on recall@1")
    report = json.loads((run_dir / "eval" / "report.json").read_text())
    assert report["task"] == "embedding" and report["n_items"] == len(comparison.items)
    # every held-out query is new: none was trained on
    trained_queries = {r["query"] for r in dataset.split("train")}
    assert not {item.text for item in comparison.items} & trained_queries


def test_export_loads_with_sentence_transformers_and_embed_serves_the_run(trained):
    from sentence_transformers import SentenceTransformer

    import tunesmith
    from tunesmith.deploy.export import export

    _, _, run_dir = trained
    folder = export(run_dir, "hf").path
    texts = ["apple please help", "invoice policy page", "rocket now"]
    ours = tunesmith.embed(texts, model=run_dir)
    theirs = SentenceTransformer(str(folder), device="cpu").encode(texts)
    assert ours.shape == theirs.shape == (3, 32)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert tunesmith.embed("apple please help", model=folder).shape == (32,)
    assert json.loads((folder / "parity.json").read_text())["passed"]


def test_embed_refuses_dimensions_the_model_was_not_trained_for(trained):
    import tunesmith
    from tunesmith.errors import TunesmithError

    _, _, run_dir = trained
    with pytest.raises(TunesmithError, match="not trained for shorter embeddings"):
        tunesmith.embed(["a"], model=run_dir, dimensions=16)


def test_v1_embeddings_serves_the_run(trained):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    import tunesmith
    from tunesmith.serve.embeddings import attach_embeddings

    _, _, run_dir = trained
    app = FastAPI()
    batcher = attach_embeddings(app, {"faq": str(run_dir)})
    try:
        body = TestClient(app).post("/v1/embeddings", json={"model": "faq", "input": ["apple now"]}).json()
    finally:
        batcher.stop()
    np.testing.assert_allclose(body["data"][0]["embedding"], tunesmith.embed("apple now", model=run_dir), atol=1e-5)


def test_lora_trains_an_embedding_run_that_loads_merged_and_exports(tiny_encoder_dir, tmp_path):
    import tunesmith
    from tunesmith.deploy.export import export
    from tunesmith.embeddings.load import base_encoder, load_embedder
    from tunesmith.train.run import run_training

    config = ProjectConfig.model_validate({
        "objective": {"task": "embedding"}, "model": {"name": str(tiny_encoder_dir), "max_length": 32},
        "method": {"name": "lora", "r": 4, "alpha": 8}, "training": {"max_steps": 3, "batch_size": 8,
                                                                    "learning_rate": 1e-2, "eval_every": 3}})
    pairs = synthetic_pairs(per_topic=3)
    run_dir = tmp_path / "run"
    run_training(config, pairs[:30], pairs[30:], run_dir)
    assert (run_dir / "adapter" / "adapter_config.json").exists()
    encoder = load_embedder(run_dir)
    assert not hasattr(encoder.model, "peft_config")  # merged on load
    texts = ["apple help", "invoice policy page"]
    trained = encoder.encode(texts)
    assert not np.allclose(trained, base_encoder(tiny_encoder_dir).encode(texts), atol=1e-4)  # the adapter counts
    folder = export(run_dir, "hf", folder=tmp_path / "export").path
    np.testing.assert_allclose(tunesmith.embed(texts, model=folder), trained, atol=1e-5)


def test_tunesmith_serve_offers_an_embedding_run_on_v1_embeddings(trained):
    from fastapi.testclient import TestClient

    import tunesmith
    from tunesmith.serve import build_server

    _, _, run_dir = trained
    server = build_server([str(run_dir)])
    assert "/v1/embeddings" in server.mounted
    try:
        with TestClient(server.app) as client:
            body = client.post("/v1/embeddings", json={"model": run_dir.name, "input": "apple now"}).json()
    finally:
        server.app.state.embeddings.stop()
    np.testing.assert_allclose(body["data"][0]["embedding"], tunesmith.embed("apple now", model=run_dir), atol=1e-5)


def test_v1_models_lists_the_embedding_models_of_an_embedding_only_server(trained):
    import openai
    from fastapi.testclient import TestClient

    from tunesmith.serve import build_server

    _, _, run_dir = trained
    server = build_server([str(run_dir)])
    try:
        with TestClient(server.app) as http:
            client = openai.OpenAI(base_url="http://testserver/v1", api_key="unused", max_retries=0, http_client=http)
            listed = {m.id: m for m in client.models.list()}
            assert list(listed) == [run_dir.name]
            assert listed[run_dir.name].model_extra["kind"] == "embedding"
            assert client.models.retrieve(run_dir.name).id == run_dir.name
            assert client.embeddings.create(model=listed[run_dir.name].id, input="apple now").data
            with pytest.raises(openai.NotFoundError):
                client.models.retrieve("nope")
    finally:
        server.app.state.embeddings.stop()


def test_production_server_serves_the_promoted_embedding_run(trained, tmp_path):
    """`serve --production` of an embedding project: the promoted run answers /v1/embeddings under the
    project's name (and its versioned id), behind the server's keys, and /v1/models lists it."""
    from fastapi.testclient import TestClient

    import tunesmith
    from tunesmith.feedback import open_project_store, promote
    from tunesmith.feedback.serving import create_production_app

    project, _, run_dir = trained
    store = open_project_store(project)
    version = promote(store, run_dir)
    alias = project.config.name
    from tunesmith.serve.server import build_server

    assert build_server(project=project, production=True, store=store).models == [alias]  # what the CLI prints
    app = create_production_app(project, store=store)
    assert app.state.embeddings.window == project.config.serve.batch_window_ms / 1000  # the server's settings
    with TestClient(app) as client:
        body = client.post("/v1/embeddings", json={"model": alias, "input": ["apple now"]}).json()
        versioned = client.post("/v1/embeddings", json={"model": f"{alias}@v{version.id}", "input": "apple now"})
        listed = [m["id"] for m in client.get("/v1/models").json()["data"]]
        chat = client.post("/v1/chat/completions", json={"model": alias, "messages": [{"role": "user",
                                                                                        "content": "hi"}]})
    assert body["model"] == alias
    np.testing.assert_allclose(body["data"][0]["embedding"], tunesmith.embed("apple now", model=run_dir), atol=1e-5)
    assert versioned.status_code == 200, versioned.text
    assert alias in listed
    assert chat.status_code == 404, chat.text
