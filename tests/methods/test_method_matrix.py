"""Every registered method through the same checks, on tiny models: a new method is tested by adding it."""

import importlib.util

import pytest
import torch
from train_helpers import chat_records, classification_records, tiny_config

from tunesmith.config.method import OPTIONS
from tunesmith.methods import all_methods, get_method
from tunesmith.models.catalog import resolve
from tunesmith.train.batching import collate
from tunesmith.train.encode import encode_records, label_list
from tunesmith.train.loss import loss_sum
from tunesmith.train.optim import build_optimizer
from tunesmith.train.setup import base_config, load_base, prepare_model

# A method whose package is missing cannot run: skipped with the reason, never silently passed.
NEEDS = {"qlora": ("bitsandbytes", "qlora needs bitsandbytes (pip install 'tunesmith[qlora]')")}


def _case(name: str, task: str):
    package, reason = NEEDS.get(name, (None, ""))
    missing = package is not None and importlib.util.find_spec(package) is None
    return pytest.param(name, task, marks=pytest.mark.skipif(missing, reason=reason))


CASES = [_case(m.name, "chat") for m in all_methods()] + [
    _case(m.name, "classification") for m in all_methods()
    if "classification" in m.tasks and m.encoder_classification]


def test_registry_matches_config_schema():
    assert {m.name for m in all_methods()} == set(OPTIONS)


def _setup(method: str, task: str, model_dir):
    config = tiny_config(model_dir, method, task, learning_rate=1e-2)
    records = chat_records(8) if task == "chat" else classification_records(8)
    labels = label_list(records) if task == "classification" else None
    model, tokenizer, spec, _ = prepare_model(config, task, labels)
    examples = encode_records(tokenizer, records, task, 64, labels)
    batch = collate(examples, tokenizer.pad_token_id, task == "classification")
    return config, model, spec, batch, labels


def _eval_loss(model, batch, task: str, spec) -> float:
    model.eval()  # dropout off: the comparison is deterministic
    with torch.no_grad():
        loss, count, _ = loss_sum(model, batch, task, spec.virtual_tokens)
    return float(loss) / count


def _outputs(model, batch, task: str) -> torch.Tensor:
    with torch.no_grad():
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    logits = out.logits
    return logits if task == "classification" else logits[:, -batch["input_ids"].shape[1]:]


@pytest.mark.parametrize(("method", "task"), CASES)
def test_method_trains_saves_and_reloads(method, task, tiny_lm_dir, tiny_encoder_dir, tmp_path):
    model_dir = tiny_lm_dir if task == "chat" else tiny_encoder_dir
    config, model, spec, batch, labels = _setup(method, task, model_dir)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    optimizer = build_optimizer(model, config.training)
    initial = _eval_loss(model, batch, task, spec)
    model.train()
    for _ in range(8):
        loss, count, _ = loss_sum(model, batch, task, spec.virtual_tokens)
        (loss / count).backward()
        optimizer.step()
        optimizer.zero_grad()
    assert _eval_loss(model, batch, task, spec) < initial

    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed, "nothing trained"
    assert changed <= trainable, f"frozen parameters changed: {sorted(changed - trainable)[:3]}"
    if method == "full":
        assert len(changed) > len(before) // 2

    model.eval()
    expected = _outputs(model, batch, task)
    spec.save(model, tmp_path / spec.artifact)
    # Reloaded onto the base as it was loaded for training (qlora: 4-bit), so the round trip is exact;
    # tests/methods/test_qlora.py checks a qlora adapter on the full-precision base.
    resolved = resolve(str(model_dir))
    overrides = spec.load_overrides(config.method, base_config(resolved, config)) if spec.load_overrides else {}
    base, _, _ = load_base(config, task, labels, resolved, overrides)
    reloaded = spec.load(base, tmp_path / spec.artifact).eval()
    torch.testing.assert_close(_outputs(reloaded, batch, task), expected, atol=1e-6, rtol=1e-6)
    if spec.merge is not None and "quantization_config" not in overrides:  # no merging into 4-bit weights
        merged = spec.merge(reloaded)
        assert not any("lora_" in n or "ia3_" in n for n, _ in merged.named_parameters())
        torch.testing.assert_close(_outputs(merged, batch, task), expected, atol=1e-4, rtol=1e-4)


def test_unsupported_combinations_are_refused(tiny_encoder_dir):
    from tunesmith.errors import ConfigError

    config = tiny_config(tiny_encoder_dir, "prefix", "classification")
    with pytest.raises(ConfigError, match="prefix"):
        prepare_model(config, "classification", ["a", "b"])
    assert get_method("lora").merge is not None and get_method("prompt").merge is None
