"""The encoder served through ONNX Runtime: the same vectors as PyTorch (padded batches included), chosen by
`serve.embedding_runtime`, and never served when it disagrees."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tunesmith.config.serve import ServeConfig
from tunesmith.embeddings import onnx_runtime
from tunesmith.embeddings.load import load_embedder
from tunesmith.embeddings.onnx_runtime import OnnxEncoder, onnx_encoder, serving_encoder
from tunesmith.errors import TunesmithError
from tunesmith.serve.embeddings import attach_embeddings
from tunesmith.serve.errors import install_error_handlers

pytestmark = pytest.mark.skipif(not onnx_runtime.runtime_available(), reason="onnxruntime is not installed")

# Lengths from 1 to ~20 tokens, so every chunk is padded to its longest.
TEXTS = ["hi", "where is my parcel", "how do I reset my password after the link expired",
         "refund please", "can I change the delivery address of an order that has already shipped to me", "ok"]


@pytest.fixture(scope="module")
def reference(tiny_encoder_dir):
    return load_embedder(tiny_encoder_dir)


def test_the_runtime_gives_pytorchs_vectors_for_padded_batches(reference):
    served = onnx_encoder(reference, threads=1)
    assert isinstance(served, OnnxEncoder)
    for batch_size in (1, 4, 64):  # single texts, mixed chunks, one padded batch
        np.testing.assert_allclose(served.encode(TEXTS, batch_size=batch_size), reference.encode(TEXTS),
                                   atol=onnx_runtime.TOLERANCE)
    np.testing.assert_allclose(served.encode(TEXTS, dimensions=8), reference.encode(TEXTS, dimensions=8),
                               atol=onnx_runtime.TOLERANCE)


def test_the_setting_picks_the_runtime(reference):
    assert isinstance(serving_encoder(reference, "auto"), OnnxEncoder)
    assert isinstance(serving_encoder(reference, "onnxruntime"), OnnxEncoder)
    assert serving_encoder(reference, "torch") is reference
    with pytest.raises(ValueError, match="unknown embedding runtime"):
        serving_encoder(reference, "tensorrt")


def test_a_runtime_that_disagrees_is_not_served(reference, monkeypatch, caplog):
    def drifted(encoder, threads=None):
        served = onnx_encoder(encoder, threads)
        run = served.session.run
        served.session = type("Drifted", (), {"run": lambda self, names, feed: [run(names, feed)[0] + 0.01]})()
        return served

    monkeypatch.setattr(onnx_runtime, "onnx_encoder", drifted)
    assert serving_encoder(reference, "auto") is reference  # PyTorch keeps serving ...
    assert "differs" in caplog.text  # ... and the log says why
    with pytest.raises(TunesmithError, match="differ from PyTorch"):
        serving_encoder(reference, "onnxruntime")


def test_an_encoder_the_exporter_cannot_trace_falls_back_under_auto(reference, monkeypatch):
    def untraceable(model, target):
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(onnx_runtime, "export_graph", untraceable)
    assert serving_encoder(reference, "auto") is reference
    with pytest.raises(TunesmithError, match="could not be run by ONNX Runtime"):
        serving_encoder(reference, "onnxruntime")


@pytest.mark.parametrize("runtime", ["onnxruntime", "torch"])
def test_the_endpoint_answers_the_same_through_either_runtime(tiny_encoder_dir, reference, runtime):
    app = FastAPI()
    install_error_handlers(app)
    batcher = attach_embeddings(app, {"tiny": str(tiny_encoder_dir)}, settings=ServeConfig(embedding_runtime=runtime))
    try:
        body = TestClient(app).post("/v1/embeddings", json={"model": "tiny", "input": TEXTS}).json()
        assert isinstance(batcher.encoder("tiny"), OnnxEncoder) == (runtime == "onnxruntime")
    finally:
        batcher.stop()
    np.testing.assert_allclose([d["embedding"] for d in body["data"]], reference.encode(TEXTS),
                               atol=onnx_runtime.TOLERANCE)


def test_onnxruntime_asked_for_but_missing_is_refused_when_the_server_is_assembled(tiny_encoder_dir, monkeypatch):
    monkeypatch.setattr(onnx_runtime, "runtime_available", lambda: False)
    with pytest.raises(TunesmithError, match="not installed"):
        attach_embeddings(FastAPI(), {"tiny": str(tiny_encoder_dir)},
                          settings=ServeConfig(embedding_runtime="onnxruntime"))
    assert serving_encoder(load_embedder(tiny_encoder_dir), "auto").__class__.__name__ == "SentenceEncoder"


def test_the_export_leaves_the_model_as_it_was(reference):
    before = {name: value.clone() for name, value in reference.model.state_dict().items()}
    training = reference.model.training
    onnx_encoder(reference)
    assert reference.model.training == training
    assert all(torch.equal(before[name], value) for name, value in reference.model.state_dict().items())


def test_export_onnx_writes_the_graph_beside_the_sentence_transformers_folder(tiny_encoder_dir, tmp_path):
    import onnxruntime

    from tunesmith.config import ProjectConfig
    from tunesmith.deploy.export import export
    from tunesmith.train.run import run_training

    config = ProjectConfig.model_validate({
        "objective": {"task": "embedding"}, "model": {"name": str(tiny_encoder_dir), "max_length": 32},
        "method": {"name": "full"}, "training": {"max_steps": 2, "batch_size": 4, "learning_rate": 1e-3,
                                                "eval_every": 2}})
    pairs = [{"query": f"question {i} {TEXTS[i % len(TEXTS)]}", "positive": f"answer {i}"} for i in range(12)]
    run_dir = tmp_path / "run"
    run_training(config, pairs[:8], pairs[8:], run_dir)
    result = export(run_dir, "onnx", folder=tmp_path / "export")
    assert result.parity["passed"] and "ONNX Runtime" in result.parity["candidate"]
    graph = result.path / onnx_runtime.ONNX_FILE
    assert (result.path / "modules.json").exists() and graph.exists()  # the folder SentenceTransformer loads
    trained = load_embedder(run_dir)
    tokens = trained.tokenizer(TEXTS, padding=True, return_tensors="np")
    session = onnxruntime.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    hidden = session.run(None, {"input_ids": tokens["input_ids"], "attention_mask": tokens["attention_mask"]})[0]
    mask = tokens["attention_mask"][..., None]
    vectors = (hidden * mask).sum(1) / mask.sum(1)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, trained.encode(TEXTS), atol=onnx_runtime.TOLERANCE)


def test_export_onnx_is_refused_for_other_tasks(tmp_path, monkeypatch):
    from tunesmith.deploy.export import export
    from tunesmith.runs import RunFolder

    monkeypatch.setattr(RunFolder, "require_finished", lambda self, action="use": type("Info", (), {"task": "chat"})())
    with pytest.raises(TunesmithError, match="--format onnx is for embedding runs"):
        export(tmp_path / "chat-run", "onnx")


def test_the_export_command_reports_an_embedding_exports_parity(tiny_encoder_dir, tmp_path):
    from typer.testing import CliRunner

    from tunesmith.cli import _register_commands, app
    from tunesmith.config import ProjectConfig
    from tunesmith.train.run import run_training

    _register_commands()
    config = ProjectConfig.model_validate({
        "objective": {"task": "embedding"}, "model": {"name": str(tiny_encoder_dir), "max_length": 32},
        "method": {"name": "full"}, "training": {"max_steps": 1, "batch_size": 4, "learning_rate": 1e-3,
                                                "eval_every": 1}})
    pairs = [{"query": f"question {i} {TEXTS[i % len(TEXTS)]}", "positive": f"answer {i}"} for i in range(8)]
    run_training(config, pairs[:6], pairs[6:], tmp_path / "run")
    for fmt in ("hf", "onnx"):
        result = CliRunner().invoke(app, ["export", str(tmp_path / "run"), "--format", fmt,
                                          "--out", str(tmp_path / fmt)])
        assert result.exit_code == 0, result.output
        assert "parity passed" in result.output and "held-out texts embed alike" in result.output
    assert (tmp_path / "onnx" / onnx_runtime.ONNX_FILE).exists()
