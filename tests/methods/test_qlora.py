"""QLoRA: the 4-bit base it trains on, the adapter it saves (used on the full-precision base), its refusals.

The shared matrix (test_method_matrix.py) already trains qlora, checks that only LoRA weights change and
that the adapter reloads exactly onto a 4-bit base. Here: what is quantized, gradients after a
validation pass, and the adapter on the fp32 base, whose outputs differ from the 4-bit model's by the
base's quantization error.
"""

import importlib.metadata
import importlib.util
import json

import pytest
import torch
from train_helpers import chat_records, tiny_config

from tunesmith.config import parse_config
from tunesmith.errors import ConfigError
from tunesmith.methods import count_parameters, get_method, qlora
from tunesmith.train.batching import collate
from tunesmith.train.encode import encode_records
from tunesmith.train.loss import loss_sum
from tunesmith.train.setup import prepare_model

needs_bnb = pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None,
                               reason="qlora needs bitsandbytes (pip install 'tunesmith[qlora]')")


def _config(model_dir, **training):
    return tiny_config(model_dir, "qlora", **{"learning_rate": 1e-2, **training})


def test_quantization_and_lora_settings():
    options = parse_config({"method": {"name": "qlora", "r": 8, "alpha": 16}}).method
    built = qlora.quantization_config(options, cuda=True)
    assert built.load_in_4bit and built.bnb_4bit_quant_type == "nf4" and built.bnb_4bit_use_double_quant
    assert built.bnb_4bit_compute_dtype == torch.bfloat16
    assert set(built.llm_int8_skip_modules) == {"lm_head", "classifier", "score"}
    assert qlora.quantization_config(options, cuda=False).bnb_4bit_compute_dtype == torch.float32
    fp4 = options.model_copy(update={"quant_type": "fp4", "quant_compute_dtype": "float16"})
    built = qlora.quantization_config(fp4, cuda=True)
    assert built.bnb_4bit_quant_type == "fp4" and built.bnb_4bit_compute_dtype == torch.float16
    assert options.options() == {"r": 8, "alpha": 16, "dropout": 0.05, "target_modules": "all-linear",
                                 "quant_type": "nf4", "quant_compute_dtype": "auto"}
    with pytest.raises(ConfigError, match="quant_type do not apply"):
        parse_config({"method": {"name": "lora", "quant_type": "fp4"}})


@pytest.mark.parametrize(("cuda", "world", "device", "dtype"), [
    (False, {}, "cpu", torch.float32), (True, {}, "cuda:0", torch.bfloat16),
    (True, {"WORLD_SIZE": "2", "LOCAL_RANK": "1"}, "cuda:1", torch.bfloat16)])
def test_quantizes_where_training_runs(monkeypatch, cuda, world, device, dtype):
    # Training runs on this process's GPU when there is one (train.distributed.World.device).
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(qlora, "require_bitsandbytes", lambda: None)
    for key in ("WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    for key, value in world.items():
        monkeypatch.setenv(key, value)
    overrides = qlora.load_overrides(parse_config({"method": {"name": "qlora"}}).method, None)
    assert overrides["device_map"] == {"": torch.device(device)}
    assert overrides["quantization_config"].bnb_4bit_compute_dtype == dtype


@pytest.mark.parametrize(("installed", "cuda", "message"), [
    (None, False, "needs the bitsandbytes package"), ("0.45.0", False, "no 4-bit layers on CPU")])
def test_refuses_before_loading_anything(monkeypatch, tiny_lm_dir, installed, cuda, message):
    def version(name):
        if installed is None:
            raise importlib.metadata.PackageNotFoundError(name)
        return installed

    def no_loading(*args, **kwargs):
        raise AssertionError("the base was loaded")

    monkeypatch.setattr(qlora.importlib.metadata, "version", version)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr("tunesmith.train.setup.load_base", no_loading)
    with pytest.raises(ConfigError, match=message) as refused:
        prepare_model(_config(tiny_lm_dir), "chat")
    assert "method.name: lora" in refused.value.hint


def _batch(tokenizer):
    return collate(encode_records(tokenizer, chat_records(8), "chat", 64), tokenizer.pad_token_id, False)


def _lora_grads(model, batch) -> dict[str, torch.Tensor]:
    model.train()
    model.zero_grad()
    loss, count, _ = loss_sum(model, batch, "chat", False)
    (loss / count).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def _logits(model, batch) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


@needs_bnb
def test_trains_on_4bit_base_and_adapter_loads_on_fp32_base(tiny_lm_dir, tmp_path):
    from bitsandbytes.nn import Linear4bit
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model, tokenizer, method, _ = prepare_model(_config(tiny_lm_dir), "chat")
    layers = dict(model.named_modules())
    assert isinstance(layers["base_model.model.model.layers.0.self_attn.q_proj.base_layer"], Linear4bit)
    assert isinstance(layers["base_model.model.model.layers.1.mlp.down_proj.base_layer"], Linear4bit)
    assert not isinstance(layers["base_model.model.lm_head"], Linear4bit)
    assert all("lora_" in n for n, p in model.named_parameters() if p.requires_grad)
    fp32 = AutoModelForCausalLM.from_pretrained(tiny_lm_dir, dtype=torch.float32)
    trainable, total = count_parameters(model)
    assert total == count_parameters(fp32)[1] + trainable  # 4-bit weights counted as weights, not bytes

    batch = _batch(tokenizer)
    # A validation pass (eval mode, no gradients) must not change what training computes afterwards.
    first = _lora_grads(model, batch)
    _logits(model, batch)
    for name, grad in _lora_grads(model, batch).items():
        torch.testing.assert_close(grad, first[name], atol=0, rtol=0, msg=name)

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(8):
        _lora_grads(model, batch)
        optimizer.step()
    trained = _logits(model, batch)
    method.save(model, tmp_path / "adapter")

    base_logits = _logits(fp32, batch)
    settings = qlora.quantization_config(_config(tiny_lm_dir).method, cuda=False)
    quantized_base = _logits(AutoModelForCausalLM.from_pretrained(
        tiny_lm_dir, dtype=torch.float32, quantization_config=settings), batch)
    on_fp32 = PeftModel.from_pretrained(fp32, tmp_path / "adapter")
    assert not any(isinstance(m, Linear4bit) for m in on_fp32.modules())
    adapted = _logits(on_fp32, batch)
    gap, base_gap = (adapted - trained).abs(), (base_logits - quantized_base).abs()
    learned = (trained - quantized_base).abs()
    # Measured (NF4, fp32 compute): adapter on fp32 vs 4-bit model max 0.071, mean 0.0054; the base alone,
    # fp32 vs 4-bit, max 0.133, mean 0.0122; what training changed, max 1.49, mean 0.17. The adapter adds
    # no error beyond the base's quantization error, which stays small next to what was learned.
    assert gap.mean() <= 1.5 * base_gap.mean() and gap.max() <= 0.15
    assert gap.mean() <= 0.1 * learned.mean()
    merged = on_fp32.merge_and_unload()
    torch.testing.assert_close(_logits(merged, batch), adapted, atol=1e-4, rtol=1e-4)


def test_registered_as_adapter_method():
    method = get_method("qlora")
    assert method.artifact == "adapter" and method.merge is not None and method.load_overrides is not None


@needs_bnb
def test_a_qlora_run_loads_serves_and_merges_like_a_lora_run(tiny_lm_dir, tmp_path):
    from bitsandbytes.nn import Linear4bit
    from peft import PeftModel

    from tunesmith.serve.registry import describe
    from tunesmith.train import load_run, run_training

    config = _config(tiny_lm_dir, epochs=2, eval_every=1)  # a validation pass between training steps
    result = run_training(config, chat_records(8), chat_records(4), tmp_path / "run")
    assert result.status == "completed" and (tmp_path / "run" / "adapter" / "adapter_config.json").exists()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    validation = [row["val_loss"] for row in rows if row["split"] == "validation"]
    assert len(validation) == 4 and validation == sorted(validation, reverse=True)
    unmerged = load_run(tmp_path / "run", merge=False).model
    assert isinstance(unmerged, PeftModel) and not any(isinstance(m, Linear4bit) for m in unmerged.modules())
    merged = load_run(tmp_path / "run").model
    assert not any("lora_" in n for n, _ in merged.named_parameters())
    assert merged.model.layers[0].self_attn.q_proj.weight.dtype == torch.float32
    source = describe(tmp_path / "run")
    assert source.kind == "adapter" and source.base == str(tiny_lm_dir)


@needs_bnb
def test_interrupted_qlora_run_resumes_bit_exact(tiny_lm_dir, tmp_path):
    import os
    import signal

    from safetensors.torch import load_file

    from tunesmith.train import run_training

    config = _config(tiny_lm_dir, epochs=2, eval_every=2, learning_rate=5e-3)
    config = config.model_copy(update={"method": config.method.model_copy(update={"dropout": 0.1})})
    train, validation = chat_records(16), chat_records(4)
    run_training(config, train, validation, tmp_path / "straight")

    def stop(row):
        if row["step"] == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # the loop checkpoints and stops after this step

    stopped = run_training(config, train, validation, tmp_path / "resumed", callbacks=[stop])
    assert stopped.status == "interrupted"
    steps: list[int] = []
    resumed_run = run_training(config, train, validation, tmp_path / "resumed", resume=True,
                               callbacks=[lambda row: steps.append(row["step"])])
    assert resumed_run.status == "completed" and min(steps) == 4  # continued, not retrained from step 1
    straight, resumed = (load_file(str(tmp_path / name / "adapter" / "adapter_model.safetensors"))
                         for name in ("straight", "resumed"))
    assert straight.keys() == resumed.keys()
    for name, weight in straight.items():
        assert torch.equal(weight, resumed[name]), name
