import json

import pytest
import torch

from tunesmith.errors import ModelNotFoundError
from tunesmith.models.catalog import CATALOG, resolve
from tunesmith.models.loading import load_causal_lm, load_tokenizer


def test_unknown_model_names_catalog_and_fix():
    with pytest.raises(ModelNotFoundError) as err:
        resolve("gpt-17-ultra")
    message = str(err.value)
    assert all(name in message for name in CATALOG)
    assert "local Hugging Face folder" in message


def test_folder_without_safetensors_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ModelNotFoundError, match="safetensors"):
        resolve(str(tmp_path))


def test_local_folder_resolves_and_loads(tiny_lm_dir):
    resolved = resolve(str(tiny_lm_dir))
    assert resolved.kind == "causal-lm"
    model, tokenizer = load_causal_lm(resolved), load_tokenizer(resolved)
    ids = tokenizer("hello", return_tensors="pt")["input_ids"]
    assert model(ids).logits.shape[-1] == len(tokenizer)


def test_encoder_folder_kind(tiny_encoder_dir):
    assert resolve(str(tiny_encoder_dir)).kind == "encoder"


def test_minilm_is_shipped_as_safetensors():
    resolved = resolve("minilm-l6")
    assert (resolved.path / "model.safetensors").exists() and resolved.kind == "encoder"


@pytest.mark.slow
def test_smollm2_converts_once_and_verifies(tmp_path):
    entry = CATALOG["smollm2-135m-instruct"]
    first = resolve(entry.name, cache_dir=tmp_path)
    marker = json.loads((first.path / "tunesmith-conversion.json").read_text())
    assert marker["source_sha256"] == entry.sha256
    mtime = (first.path / "model.safetensors").stat().st_mtime
    again = resolve(entry.name, cache_dir=tmp_path)
    assert (again.path / "model.safetensors").stat().st_mtime == mtime  # reused, not reconverted
    model = load_causal_lm(again)
    assert sum(p.numel() for p in model.parameters()) == entry.parameters
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_tokenizer_only_folder_loads(tmp_path, tiny_lm_dir):
    load_tokenizer(tiny_lm_dir).save_pretrained(tmp_path)
    assert not (tmp_path / "config.json").exists()
    assert load_tokenizer(tmp_path)("hello")["input_ids"]
