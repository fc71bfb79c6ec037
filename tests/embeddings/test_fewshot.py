"""Few examples per class (SetFit-style `embedding` recipe): the pairs, the automatic choice, and a run that
trains, evaluates and serves through the same classification paths as any classifier."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
import torch

from tunesmith.config import ProjectConfig
from tunesmith.embeddings.fewshot import choose_recipe, contrastive_pairs
from tunesmith.errors import ConfigError
from tunesmith.project import Project

RECORDS = [{"text": f"{label} text {i}", "label": label} for label in ("a", "b", "c") for i in range(4)]


def test_pairs_pair_each_text_with_its_label_and_with_another_label():
    pairs = contrastive_pairs(RECORDS, per_example=6, seed=0)
    label_of = {r["text"]: r["label"] for r in RECORDS}
    assert len(pairs) == len(RECORDS) * 6
    for pair in pairs:
        same = label_of[pair["query"]] == label_of[pair["positive"]]
        assert pair["score"] == (1.0 if same else 0.0)
        assert pair["query"] != pair["positive"]  # every label has more than one text here
    per_text = Counter((p["query"], p["score"]) for p in pairs)
    assert set(per_text.values()) == {3}  # each text: 3 same-label and 3 different-label pairs
    assert len({p["id"] for p in pairs}) == len(pairs)
    assert contrastive_pairs(RECORDS, 6, seed=0) == pairs and contrastive_pairs(RECORDS, 6, seed=1) != pairs


def test_pairs_of_a_lone_text_and_of_a_single_label():
    lone = contrastive_pairs([{"text": "x", "label": "a"}, {"text": "y", "label": "b"}], 2, seed=0)
    assert {(p["query"], p["positive"], p["score"]) for p in lone} == {("x", "x", 1.0), ("x", "y", 0.0),
                                                                        ("y", "y", 1.0), ("y", "x", 0.0)}
    assert all(p["score"] == 1.0 for p in contrastive_pairs(RECORDS[:4], 4, seed=0))


def _config(model: str, **few_shot) -> ProjectConfig:
    return ProjectConfig.model_validate({"objective": {"task": "classification"}, "model": {"name": model},
                                         "method": {"name": "full"}, "few_shot": few_shot})


def test_the_embedding_recipe_is_chosen_below_the_threshold_and_can_be_overridden(tiny_encoder_dir, tiny_lm_dir):
    few = RECORDS  # 4 per class
    many = [{"text": f"{i}", "label": label} for label in ("a", "b") for i in range(30)]
    chosen = choose_recipe(_config(str(tiny_encoder_dir)), few)
    assert chosen.recipe == "embedding" and "median class has 4 training examples" in chosen.reason
    assert "few_shot.embedding_below (30)" in chosen.reason
    assert choose_recipe(_config(str(tiny_encoder_dir)), many).recipe == "head"
    assert choose_recipe(_config(str(tiny_encoder_dir), embedding_below=3), few).recipe == "head"
    assert choose_recipe(_config(str(tiny_encoder_dir), recipe="head"), few).recipe == "head"
    assert choose_recipe(_config(str(tiny_encoder_dir), recipe="embedding"), many).recipe == "embedding"
    # a causal LM or text pairs keep the plain head, and say why
    not_encoder = choose_recipe(_config(str(tiny_lm_dir)), few)
    assert not_encoder.recipe == "head" and "not an encoder" in not_encoder.reason
    paired = [{**r, "text_pair": "other"} for r in few]
    assert choose_recipe(_config(str(tiny_encoder_dir)), paired).recipe == "head"
    with pytest.raises(ConfigError, match="not an encoder"):
        choose_recipe(_config(str(tiny_lm_dir), recipe="embedding"), few)


INTENTS = {"refund": ["money back", "return my payment", "want a refund", "reimburse me", "refund the charge",
                      "give back my money", "cancel and refund", "refund request"],
           "delivery": ["where is my parcel", "track the package", "when will it arrive", "shipping status",
                        "parcel late", "delivery date", "package not here", "courier tracking"],
           "password": ["reset my password", "forgot login", "cannot sign in", "change password",
                        "locked out of account", "password not working", "login help", "new password please"]}


@pytest.fixture(scope="module")
def fewshot_run(tiny_encoder_dir, tmp_path_factory):
    from tunesmith.data.prepare import prepare
    from tunesmith.train.run import train

    root = tmp_path_factory.mktemp("fewshot-project")
    rows = [{"text": t, "label": label} for label, texts in INTENTS.items() for t in texts]
    random.Random(0).shuffle(rows)
    (root / "intents.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    config = ProjectConfig.model_validate({
        "objective": {"task": "classification"}, "model": {"name": str(tiny_encoder_dir), "max_length": 32},
        "method": {"name": "full"},
        "data": {"sources": [{"path": "intents.jsonl"}], "test_share": 0.25, "validation_share": 0.15,
                 "near_duplicates": "off"},
        "few_shot": {"pairs_per_example": 8, "epochs": 2, "learning_rate": 1e-3, "batch_size": 16},
        "training": {"seed": 0}, "evaluation": {"bootstrap_samples": 200}})
    project = Project.create(root, config)
    dataset = prepare(project)
    return project, dataset, train(project, dataset).run_dir





def test_a_fewshot_run_is_a_classifier_with_a_logistic_head(fewshot_run):
    from tunesmith.embeddings.fewshot_run import EmbeddingClassifier
    from tunesmith.runs import RunFolder
    from tunesmith.train import load_run

    _, dataset, run_dir = fewshot_run
    info = RunFolder(run_dir).info()
    assert info.finished and info.task == "classification" and info.labels == sorted(INTENTS)
    assert info.raw["recipe"] == "embedding" and "median class" in info.raw["recipe_reason"]
    assert info.raw["contrastive_pairs"] == len(dataset.split("train")) * 8
    assert 0 <= info.raw["head"]["train_accuracy"] <= 1
    assert RunFolder(run_dir).config().objective.task == "classification"
    loaded = load_run(run_dir)
    assert isinstance(loaded.model, EmbeddingClassifier) and loaded.task == "classification"
    logits = loaded.model(**loaded.tokenizer(["reset my password"], return_tensors="pt")).logits
    assert logits.shape == (1, len(INTENTS))


def test_eval_compares_the_fewshot_run_with_the_plain_head(fewshot_run):
    from tunesmith.evaluate.compare import compare

    project, dataset, run_dir = fewshot_run
    comparison = compare(project, dataset, [run_dir])
    names = {r.name for r in comparison.results}
    assert {run_dir.name, "plain classification head"} <= names
    assert any(t.b == "plain classification head" and t.a == run_dir.name for t in comparison.tests)


def test_v1_classifications_serves_the_fewshot_run(fewshot_run):
    from fastapi.testclient import TestClient

    from tunesmith.serve import build_server
    from tunesmith.train import load_run

    _, _, run_dir = fewshot_run
    loaded = load_run(run_dir)
    texts = ["where is my parcel", "reset my password"]
    expected = loaded.model(**loaded.tokenizer(texts, return_tensors="pt", padding=True)).logits.argmax(1).tolist()
    server = build_server([str(run_dir)])
    with TestClient(server.app) as client:
        body = client.post("/v1/classifications", json={"model": run_dir.name, "input": texts})
        assert body.status_code == 200, body.text
        models = client.get("/v1/models").json()["data"]
    assert [r["label"] for r in body.json()["data"]] == [loaded.labels[i] for i in expected]
    assert [(m["id"], m["kind"]) for m in models] == [(run_dir.name, "classifier")]


def test_only_the_main_process_fits_the_head_and_rewrites_the_run(tiny_encoder_dir, tmp_path, monkeypatch):
    """Under torchrun every process finishes the contrastive stage; a process other than the main one leaves the
    run folder as that stage wrote it (the main one fits the head and records the classifier) and waits."""
    from tunesmith.embeddings import fewshot_run
    from tunesmith.embeddings.fewshot import RecipeChoice
    from tunesmith.runs import RunFolder

    waited = []

    class SecondProcess:
        main = False

        @classmethod
        def from_env(cls):
            return cls()

        def barrier(self):
            waited.append(True)

    # run_training keeps its own (this process) world: the contrastive stage is written as on any run
    monkeypatch.setattr(fewshot_run, "World", SecondProcess, raising=False)
    config = _config(str(tiny_encoder_dir), pairs_per_example=2, epochs=1, batch_size=8)
    run_dir = tmp_path / "run"
    result = fewshot_run.train_embedding_recipe(config, RecipeChoice("embedding", "test"), RECORDS, [], run_dir,
                                                resume=False, dataset_version=None)
    assert result.status == "completed" and waited == [True]
    info = RunFolder(run_dir).info()
    assert info.task == "embedding" and "recipe" not in info.raw
    assert not list(run_dir.rglob(fewshot_run.HEAD_FILE))


def test_plan_says_which_recipe_and_why_and_costs_its_contrastive_stage(tiny_encoder_dir, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from tunesmith.cli import _register_commands, app

    rows = [{"text": t, "label": label} for label, texts in INTENTS.items() for t in texts]
    (tmp_path / "intents.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "tunesmith.yaml").write_text(yaml.safe_dump({
        "objective": {"task": "classification"}, "data": {"sources": [{"path": "intents.jsonl"}]},
        "model": {"name": str(tiny_encoder_dir), "max_length": 32}, "method": {"name": "full"}}))
    _register_commands()

    shown = CliRunner().invoke(app, ["plan", "-p", str(tmp_path), "--target", "t4"])  # prepares the data too
    assert "Recipe: embedding (the median class has" in shown.output, shown.output

    def plan(*extra):  # a GPU target: no calibration of this machine
        shown = CliRunner().invoke(app, ["plan", "-p", str(tmp_path), "--target", "t4", "--json", *extra])
        assert shown.exit_code == 0, shown.output
        return json.loads(shown.output)

    # Both with training's epochs and batch pinned to the contrastive stage's (few_shot: 1 epoch, batch 16), so
    # only the work per example differs: 10 pairs of 2 texts per example against 1 text per example.
    pinned = ("--set", "training.epochs=1", "--set", "training.batch_size=16")
    chosen, plain = plan(*pinned), plan("--set", "few_shot.recipe=head", *pinned)
    assert chosen["recipe"]["name"] == "embedding"
    assert "fewer than few_shot.embedding_below" in chosen["recipe"]["reason"]
    assert plain["recipe"] == {"name": "head", "reason": "few_shot.recipe is head"}
    assert chosen["total_steps"] >= 5 * plain["total_steps"], (chosen["total_steps"], plain["total_steps"])


def test_a_fewshot_run_exports_with_its_head_and_predicts_as_the_run(fewshot_run, tmp_path):
    from tunesmith.deploy import export
    from tunesmith.embeddings.classifier_export import read_classifier
    from tunesmith.train import load_run

    _, _, run_dir = fewshot_run
    result = export(run_dir, "hf", folder=tmp_path / "export")
    assert result.parity["passed"], result.parity
    model, labels = read_classifier(tmp_path / "export")
    loaded = load_run(run_dir)
    tokens = loaded.tokenizer(["reset my password", "track the package"], return_tensors="pt", padding=True)
    assert labels == loaded.labels
    assert torch.allclose(model(**tokens).logits, loaded.model(**tokens).logits, atol=1e-5)


@pytest.mark.parametrize("classes", [2, 4])
def test_the_linear_head_gives_the_logistic_regressions_probabilities(classes):
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression

    from tunesmith.embeddings.fewshot_run import fit_logistic_head

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 6))
    targets = [f"c{i % classes}" for i in range(40)]
    labels = [f"c{i}" for i in range(classes)] + ["never-seen"]
    weight, bias = fit_logistic_head(vectors, targets, labels, seed=0)
    probabilities = torch.softmax(torch.from_numpy(vectors).float() @ weight.T + bias, dim=1).numpy()
    expected = LogisticRegression(max_iter=2000, random_state=0).fit(vectors, targets).predict_proba(vectors)
    np.testing.assert_allclose(probabilities[:, :classes], expected, atol=1e-5)
    assert probabilities[:, classes].max() < 1e-6  # a label the head never saw is never predicted
