"""The `pooled` classification recipe: a sentence encoder's pooled embedding under a head fitted on it first
(linear probe), then fine-tuned end to end; chosen automatically for sentence-transformers encoders."""

from __future__ import annotations

import json
import random
import shutil

import pytest
import torch
from test_fewshot import INTENTS

from tunesmith.config import ProjectConfig
from tunesmith.embeddings.fewshot import choose_recipe
from tunesmith.errors import ConfigError
from tunesmith.project import Project


@pytest.fixture(scope="module")
def sentence_encoder_dir(tiny_encoder_dir, tmp_path_factory):
    """The tiny encoder as a sentence-transformers folder: it declares mean pooling."""
    folder = tmp_path_factory.mktemp("tiny-sentence-encoder") / "model"
    shutil.copytree(tiny_encoder_dir, folder)
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32,
                                                                  "pooling_mode_mean_tokens": True}))
    return folder


def _config(model: str, method: str = "full", **few_shot) -> ProjectConfig:
    return ProjectConfig.model_validate({"objective": {"task": "classification"}, "model": {"name": model},
                                         "method": {"name": method}, "few_shot": few_shot})


def test_pooled_is_chosen_for_sentence_encoders_with_enough_examples(sentence_encoder_dir, tiny_encoder_dir,
                                                                     tiny_lm_dir):
    many = [{"text": f"{label} {i}", "label": label} for label in "ab" for i in range(40)]
    few = many[:4] + many[40:44]
    chosen = choose_recipe(_config(str(sentence_encoder_dir)), many)
    assert chosen.recipe == "pooled" and "sentence encoder" in chosen.reason
    assert choose_recipe(_config(str(tiny_encoder_dir)), many).recipe == "head"  # declares no pooling
    assert choose_recipe(_config(str(sentence_encoder_dir)), few).recipe == "embedding"
    assert choose_recipe(_config(str(sentence_encoder_dir), recipe="head"), many).recipe == "head"
    paired = [{**r, "text_pair": "x"} for r in many]
    assert choose_recipe(_config(str(sentence_encoder_dir)), paired).recipe == "head"
    assert choose_recipe(_config(str(sentence_encoder_dir), method="ia3"), many).recipe == "head"
    assert choose_recipe(_config(str(tiny_encoder_dir), recipe="pooled"), many).recipe == "pooled"
    with pytest.raises(ConfigError, match="not an encoder"):
        choose_recipe(_config(str(tiny_lm_dir), recipe="pooled"), many)


@pytest.mark.parametrize("classes", [3, 4])
def test_the_probe_is_the_l2_logistic_regression(classes):
    """The L-BFGS fit is scikit-learn's multinomial L2 logistic regression (C = 1 / (l2 · n), intercept not
    penalised)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from tunesmith.embeddings.pooled import logistic_regression

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(60, 5))
    targets = np.arange(60) % classes
    vectors[np.arange(60), targets] += 1.5  # learnable, not separable
    weight, bias = logistic_regression(torch.from_numpy(vectors).float(), torch.from_numpy(targets), classes + 1,
                                       l2=0.05)
    probabilities = torch.softmax(torch.from_numpy(vectors).float() @ weight.T + bias, dim=1).numpy()
    expected = LogisticRegression(C=1 / (0.05 * 60), max_iter=5000, tol=1e-10).fit(vectors, targets)
    np.testing.assert_allclose(probabilities[:, :classes], expected.predict_proba(vectors), atol=2e-4)
    assert probabilities[:, classes].max() < 1e-6  # a class with no example is never predicted


def _project(root, model_dir, method: str = "full"):
    rows = [{"text": t, "label": label} for label, texts in INTENTS.items() for t in texts]
    random.Random(0).shuffle(rows)
    (root / "intents.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    config = ProjectConfig.model_validate({
        "objective": {"task": "classification"}, "model": {"name": str(model_dir), "max_length": 32},
        "method": {"name": method},
        "data": {"sources": [{"path": "intents.jsonl"}], "test_share": 0.25, "validation_share": 0.15,
                 "near_duplicates": "off"},
        "few_shot": {"embedding_below": 2}, "training": {"seed": 0, "epochs": 2},
        "evaluation": {"bootstrap_samples": 200}})
    return Project.create(root, config)


@pytest.fixture(scope="module")
def pooled_run(sentence_encoder_dir, tmp_path_factory):
    from tunesmith.data.prepare import prepare
    from tunesmith.train.run import train

    project = _project(tmp_path_factory.mktemp("pooled-project"), sentence_encoder_dir)
    dataset = prepare(project)
    return project, dataset, train(project, dataset).run_dir


def test_a_pooled_run_starts_from_a_fitted_head_and_loads_as_it_trained(pooled_run):
    from tunesmith.embeddings.fewshot_run import HEAD_FILE, EmbeddingClassifier
    from tunesmith.runs import RunFolder
    from tunesmith.train import load_run

    _, dataset, run_dir = pooled_run
    folder = RunFolder(run_dir)
    info = folder.info()
    assert info.finished and info.task == "classification" and info.labels == sorted(INTENTS)
    assert info.raw["recipe"] == "pooled"
    head = info.raw["head"]
    assert head["kind"] == "linear_probe" and head["examples"] == len(dataset.split("train"))
    assert head["train_accuracy"] > 0.5  # the probe learnt the training texts before any step (chance: 1/3)
    assert folder.config().few_shot.recipe == "pooled"  # the config the run was built from, recorded
    assert (run_dir / "model" / HEAD_FILE).exists() and (run_dir / "model" / "model.safetensors").exists()
    loaded = load_run(run_dir)
    assert isinstance(loaded.model, EmbeddingClassifier) and loaded.model.pooling == "mean"
    texts = [r["text"] for r in dataset.split("validation")]
    labels = [loaded.labels.index(r["label"]) for r in dataset.split("validation")]
    with torch.no_grad():
        logits = loaded.model(**loaded.tokenizer(texts, return_tensors="pt", padding=True)).logits
    accuracy = float((logits.argmax(1) == torch.tensor(labels)).float().mean())
    assert accuracy == pytest.approx(info.raw["metrics"]["val_accuracy"])  # what training measured


def test_fit_probe_replaces_a_zero_head_with_one_that_classifies(sentence_encoder_dir):
    from tunesmith.embeddings.pooled import fit_probe
    from tunesmith.train.encode import encode_records
    from tunesmith.train.setup import prepare_model

    config = _config(str(sentence_encoder_dir), recipe="pooled")
    labels = sorted(INTENTS)
    records = [{"text": t, "label": label} for label, texts in INTENTS.items() for t in texts]
    model, tokenizer, _, _ = prepare_model(config, "classification", labels)
    assert not model.head.weight.any()
    examples = encode_records(tokenizer, records, "classification", 32, labels)
    probe = fit_probe(model, examples, tokenizer.pad_token_id, len(labels), seed=0)
    assert probe["examples"] == len(records) and model.head.weight.any() and model.training
    with torch.no_grad():
        logits = model.eval()(**tokenizer([r["text"] for r in records], return_tensors="pt", padding=True)).logits
    predicted = (logits.argmax(1) == torch.tensor([labels.index(r["label"]) for r in records])).float().mean()
    assert float(predicted) == pytest.approx(probe["train_accuracy"], abs=1e-6)


def test_a_lora_pooled_run_saves_the_adapter_and_the_head(sentence_encoder_dir, tmp_path):
    from tunesmith.data.prepare import prepare
    from tunesmith.train import load_run
    from tunesmith.train.run import train

    project = _project(tmp_path, sentence_encoder_dir, method="lora")
    run_dir = train(project, prepare(project)).run_dir
    assert (run_dir / "adapter" / "adapter_config.json").exists()
    assert (run_dir / "adapter" / "logistic_head.safetensors").exists()
    loaded = load_run(run_dir)
    assert loaded.model(**loaded.tokenizer(["reset my password"], return_tensors="pt")).logits.shape == (1, 3)


def test_a_pooled_run_exports_as_a_sentence_transformers_folder_that_gives_its_logits(pooled_run, tmp_path):
    from sentence_transformers import SentenceTransformer

    from tunesmith.deploy import export
    from tunesmith.errors import TunesmithError
    from tunesmith.train import load_run

    _, _, run_dir = pooled_run
    result = export(run_dir, "hf", folder=tmp_path / "export")
    assert result.parity["passed"] and result.parity["compared"] == "predicted labels"
    folder = tmp_path / "export"
    labels = json.loads((folder / "tunesmith-classifier.json").read_text())["labels"]
    loaded = load_run(run_dir)
    assert labels == loaded.labels
    texts = ["where is my parcel", "reset my password", "give back my money"]
    with torch.no_grad():
        expected = loaded.model(**loaded.tokenizer(texts, return_tensors="pt", padding=True)).logits
    logits = SentenceTransformer(str(folder), device="cpu").encode(texts, convert_to_tensor=True)
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)
    with pytest.raises(TunesmithError, match="exports as one sentence-transformers folder"):
        export(run_dir, "adapter", folder=tmp_path / "adapter")


def test_plan_says_pooled_and_resolves_the_warm_heads_epochs(sentence_encoder_dir, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from tunesmith.cli import _register_commands, app

    rows = [{"text": f"{label} question number {i}", "label": label} for label in INTENTS for i in range(500)]
    (tmp_path / "intents.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "tunesmith.yaml").write_text(yaml.safe_dump({
        "objective": {"task": "classification"},
        "data": {"sources": [{"path": "intents.jsonl"}], "near_duplicates": "off"},
        "model": {"name": str(sentence_encoder_dir), "max_length": 32}, "method": {"name": "full"}}))
    _register_commands()

    def plan(*extra):  # a GPU target: no calibration of this machine
        shown = CliRunner().invoke(app, ["plan", "-p", str(tmp_path), "--target", "t4", "--json", *extra])
        assert shown.exit_code == 0, shown.output
        return json.loads(shown.output)

    shown = CliRunner().invoke(app, ["plan", "-p", str(tmp_path), "--target", "t4"])  # prepares the data too
    assert "Recipe: pooled" in shown.output, shown.output
    chosen, plain = plan(), plan("--set", "few_shot.recipe=head")
    assert chosen["recipe"]["name"] == "pooled" and "sentence encoder" in chosen["recipe"]["reason"]
    assert plain["recipe"]["name"] == "head"
    # 1,000 to 5,000 training texts: 2 epochs from a fitted head, 3 from a random one
    assert plain["total_steps"] == pytest.approx(1.5 * chosen["total_steps"], rel=0.02)


def test_the_probe_penalty_is_chosen_on_held_out_texts():
    """Labels that are noise get the strongest penalty (fitting them only hurts held-out texts); classes far apart
    get the weakest (confident answers are right)."""
    from tunesmith.embeddings.pooled import PROBE_L2S, choose_penalty

    generator = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(300, 16, generator=generator), dim=1)
    noise = torch.randint(0, 3, (300,), generator=generator)
    chosen, held_out = choose_penalty(x, noise, 3, seed=0)
    assert chosen == max(PROBE_L2S) and held_out["texts"] == 60
    apart = torch.arange(300) % 3
    x = torch.nn.functional.normalize(torch.eye(16)[apart] * 4 + 0.1 * x, dim=1)
    chosen, held_out = choose_penalty(x, apart, 3, seed=0)
    assert chosen == min(PROBE_L2S) and held_out["by_l2"]["1e-05"]["accuracy"] == 1.0
