"""A model folder that needs its own Python code is refused up front, naming model.trust_remote_code."""

import json

import pytest

from tunesmith.config import parse_config
from tunesmith.errors import ConfigError
from tunesmith.models.catalog import resolve
from tunesmith.models.loading import load_causal_lm, load_classifier, load_tokenizer


def _copy_with_config(source, target, **changes):
    target.mkdir()
    for item in source.iterdir():
        (target / item.name).symlink_to(item)
    config = json.loads((source / "config.json").read_text())
    (target / "config.json").unlink()
    (target / "config.json").write_text(json.dumps({**config, **changes}))
    return target


AUTO_MAP = {"AutoConfig": "configuration_acme.AcmeConfig", "AutoModelForCausalLM": "modeling_acme.AcmeForCausalLM"}


@pytest.fixture
def remote_dir(tiny_lm_dir, tmp_path):
    """The tiny Llama re-labelled as a custom architecture whose code would come from the folder."""
    return _copy_with_config(tiny_lm_dir, tmp_path / "acme", model_type="acme_lm", auto_map=AUTO_MAP,
                             architectures=["AcmeForCausalLM"])


def _refused(call) -> str:
    with pytest.raises(ConfigError) as err:
        call()
    message = str(err.value)
    assert "model.trust_remote_code" in message and "acme_lm" in message and "\n" not in message
    return message


def test_every_way_to_load_the_folder_refuses_it(remote_dir):
    from tunesmith.embeddings.load import base_encoder
    from tunesmith.plan.shapes import model_shape
    from tunesmith.train.setup import load_base

    assert str(remote_dir) in _refused(lambda: resolve(str(remote_dir)))
    _refused(lambda: load_causal_lm(remote_dir))  # serve, export, evaluate, judge
    _refused(lambda: load_classifier(remote_dir, ["a", "b"]))
    _refused(lambda: load_tokenizer(remote_dir))  # data prepare, plan
    _refused(lambda: model_shape(str(remote_dir)))  # plan
    _refused(lambda: base_encoder(remote_dir))  # embeddings
    config = parse_config({"model": {"name": str(remote_dir)}})
    _refused(lambda: load_base(config, "chat", None))  # train, and load_run (serve/export/eval of a run)


def test_trusting_the_folder_lets_it_through(remote_dir):
    assert resolve(str(remote_dir), trust_remote_code=True).path == remote_dir


def test_auto_map_beside_a_model_type_transformers_ships_is_loaded_with_its_own_class(tiny_lm_dir, tmp_path):
    # transformers ignores auto_map for a model_type it knows: nothing from the folder would run.
    folder = _copy_with_config(tiny_lm_dir, tmp_path / "llama-with-auto-map", auto_map=AUTO_MAP)
    model = load_causal_lm(resolve(str(folder)))
    assert type(model).__name__ == "LlamaForCausalLM"
