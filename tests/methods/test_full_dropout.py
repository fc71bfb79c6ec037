"""method.model_dropout: dropout for full fine-tuning, set on the architecture's own dropout fields."""

import json
from types import SimpleNamespace

import torch
import yaml
from train_helpers import chat_records, tiny_config

from tunesmith.config.method import method_config
from tunesmith.methods.full import load_overrides
from tunesmith.train import load_run, run_training
from tunesmith.train.setup import prepare_model


def full_config(model_dir, task: str = "chat", model_dropout: float | None = None, **training):
    config = tiny_config(model_dir, "full", task, **training)
    config.method = method_config("full", model_dropout=model_dropout)
    return config


def two_passes(model, **inputs):
    with torch.no_grad():
        return model(**inputs).logits, model(**inputs).logits


def test_llama_dropout_is_random_in_train_mode_only(tiny_lm_dir):
    ids = {"input_ids": torch.tensor([[5, 6, 7, 8, 9, 10, 11, 12]])}
    model, *_ = prepare_model(full_config(tiny_lm_dir, model_dropout=0.3), "chat")
    assert model.config.attention_dropout == 0.3
    first, second = two_passes(model.train(), **ids)
    assert not torch.equal(first, second)
    first, second = two_passes(model.eval(), **ids)
    assert torch.equal(first, second)

    default, *_ = prepare_model(full_config(tiny_lm_dir), "chat")  # empty: the checkpoint's values (0 here)
    assert default.config.attention_dropout == 0.0
    first, second = two_passes(default.train(), **ids)
    assert torch.equal(first, second)


def test_bert_fields_follow_the_setting(tiny_encoder_dir):
    labels = ["neg", "pos"]
    inputs = {"input_ids": torch.tensor([[2, 40, 41, 42, 43, 3]])}
    kept, *_ = prepare_model(full_config(tiny_encoder_dir, "classification"), "classification", labels)
    assert kept.config.hidden_dropout_prob == kept.config.attention_probs_dropout_prob == 0.1  # BERT's own
    first, second = two_passes(kept.train(), **inputs)
    assert not torch.equal(first, second)
    off, *_ = prepare_model(full_config(tiny_encoder_dir, "classification", 0.0), "classification", labels)
    assert off.config.hidden_dropout_prob == off.config.attention_probs_dropout_prob == 0.0
    first, second = two_passes(off.train(), **inputs)
    assert torch.equal(first, second)


def test_run_records_the_setting_and_saves_the_base_values(tiny_lm_dir, tmp_path):
    config = full_config(tiny_lm_dir, model_dropout=0.2, max_steps=3, eval_every=3)
    run_training(config, chat_records(12), chat_records(4, seed=3), tmp_path / "run")
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["method"] == {"name": "full", "model_dropout": 0.2, "train_embeddings": "auto"}
    assert json.loads((tmp_path / "run" / "model" / "config.json").read_text())["attention_dropout"] == 0.0
    loaded = load_run(tmp_path / "run")
    ids = torch.tensor([[5, 6, 7, 8]])
    first, second = two_passes(loaded.model, input_ids=ids)
    assert torch.equal(first, second) and torch.isfinite(first).all()


def test_architecture_without_dropout_fields_warns(capsys):
    config = SimpleNamespace(model_type="plain", to_dict=lambda: {"hidden_size": 8, "use_cache": True})
    assert load_overrides(method_config("full", model_dropout=0.1), config) == {}
    assert "no dropout fields" in capsys.readouterr().err
    assert load_overrides(method_config("full"), config) == {}
