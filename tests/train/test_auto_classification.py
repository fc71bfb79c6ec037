"""A classification run with no training settings trains with the values config/auto.py resolves from its data."""

from __future__ import annotations

import json
import random

import yaml

from tunesmith.config import parse_config
from tunesmith.train import run_training

POSITIVE, NEGATIVE = ["great", "lovely", "fine", "good", "happy"], ["awful", "bad", "sad", "poor", "angry"]
FILLER = ["the", "movie", "was", "a", "day", "and", "it", "film", "show", "felt"]


def sentiment_records(n: int, seed: int) -> list[dict]:
    """Easy two-class data: a few filler words and one word that gives the label away."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = [*rng.sample(FILLER, 4), rng.choice(POSITIVE if label == "pos" else NEGATIVE)]
        rng.shuffle(words)
        records.append({"id": f"{seed}-{i}", "text": " ".join(words), "label": label})
    return records


def config_without_training_settings(model_dir, **training):
    # The tiny encoder is random: it learns mostly in its embeddings, which a pretrained one keeps frozen
    return parse_config({"objective": {"task": "classification"}, "model": {"name": str(model_dir), "max_length": 32},
                         "method": {"name": "full", "train_embeddings": True}, "training": training})


def test_a_run_with_no_settings_trains_with_the_resolved_values(tiny_encoder_dir, tmp_path):
    run_dir = tmp_path / "run"
    result = run_training(config_without_training_settings(tiny_encoder_dir), sentiment_records(240, 1),
                          sentiment_records(60, 2), run_dir)
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())["training"]
    info = json.loads((run_dir / "run.json").read_text())
    search = info["learning_rate_search"]
    # 240 examples: batch 16, 15 steps per epoch, 5 epochs, a check every 10 steps, early stopping on
    assert (saved["batch_size"], saved["epochs"], saved["eval_every"], saved["early_stopping_patience"]) == \
        (16, 5.0, 10, 3)
    assert saved["learning_rate"] == search["learning_rate"] and search["measured"] and search["steps"] == 60
    assert saved["validation_subset"] is None and info["planned_steps"] == 75
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    accuracy = [row["val_accuracy"] for row in rows if row["split"] == "validation"]
    assert accuracy[0] < 0.9 <= result.metrics["val_accuracy"]  # chance is 0.5


def test_checks_during_training_read_the_subset_and_the_end_reads_every_example(tiny_encoder_dir, tmp_path,
                                                                                  monkeypatch):
    from tunesmith.train import loop, run

    read: list[tuple[str, int]] = []
    for module, when in ((loop, "during"), (run, "end")):
        def spy(model, examples, *args, _original=module.evaluate, _when=when, **kwargs):
            read.append((_when, len(examples)))
            return _original(model, examples, *args, **kwargs)
        monkeypatch.setattr(module, "evaluate", spy)
    config = config_without_training_settings(tiny_encoder_dir, validation_subset=20, learning_rate=1e-2,
                                              epochs=1)
    run_dir = tmp_path / "run"
    result = run_training(config, sentiment_records(64, 1), sentiment_records(60, 2), run_dir)
    info = json.loads((run_dir / "run.json").read_text())
    assert info["validation_subset"] == 20 and "learning_rate_search" not in info
    assert result.metrics["checked_on"] == 20
    assert read[-1] == ("end", 60) and set(read[:-1]) == {("during", 20)} and len(read) > 1


def test_a_resumed_run_keeps_the_learning_rate_its_range_test_found(tmp_path):
    from tunesmith.config.auto import DataFacts
    from tunesmith.runs import CONFIG_FILE
    from tunesmith.runs.saved_config import save_run_config
    from tunesmith.train.run import _resolve

    facts = DataFacts("classification", 2_000, 200, 4, trains_base=True)
    config = parse_config({"objective": {"task": "classification"}})
    assert _resolve(config, facts, None).training.learning_rate == "auto"  # a new run measures it
    measured = config.model_copy(update={"training": config.training.model_copy(update={"learning_rate": 3e-5})})
    save_run_config(measured, tmp_path / CONFIG_FILE)
    resumed = _resolve(config, facts, tmp_path)
    assert resumed.training.learning_rate == 3e-5 and resumed.training.batch_size == 32
