"""method.train_embeddings: full fine-tuning of an encoder classifier leaves the token embeddings frozen by
default; the setting, and every other task, trains them."""

import pytest
from train_helpers import tiny_config

from tunesmith.config.method import method_config
from tunesmith.train.setup import prepare_model

LABELS = ["billing", "bug", "other"]


def _embeddings_train(model_dir, task: str, **options) -> bool:
    config = tiny_config(model_dir, "full", task)
    config.method = method_config("full", **options)
    model, *_ = prepare_model(config, task, LABELS if task == "classification" else None)
    embeddings = model.get_input_embeddings().weight
    assert all(p.requires_grad for p in model.parameters() if p is not embeddings)  # everything else trains
    return embeddings.requires_grad


@pytest.mark.parametrize(("task", "options", "trains"), [
    ("classification", {}, False),  # the default for an encoder classifier
    ("classification", {"train_embeddings": True}, True),
    ("embedding", {}, True),  # the embedding task (and the embedding recipe's contrastive stage) trains them
])
def test_encoder_embeddings_train_only_when_they_should(tiny_encoder_dir, task, options, trains):
    assert _embeddings_train(tiny_encoder_dir, task, **options) is trains


def test_chat_models_train_their_tied_embeddings_unless_told(tiny_lm_dir):
    assert _embeddings_train(tiny_lm_dir, "chat") is True
    assert _embeddings_train(tiny_lm_dir, "chat", train_embeddings=False) is False
