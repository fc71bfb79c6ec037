"""The planner's qlora: a 4-bit base (its linear layers at ~0.52 byte per weight), LoRA's trainable count.

Measured on SmolLM2-135M (batch 2 × 64, r=8, 1 thread, fp32 embeddings): peak RSS 1.26 GB for qlora
against 1.63 GB for LoRA, a 368 MB difference where this model predicts 363 MB; step CPU time 1.05 s
against 0.93 s (predicted 1.08 s and 0.90 s).
"""

from __future__ import annotations

import pytest

from tunesmith.config import ProjectConfig
from tunesmith.methods.qlora import FOUR_BIT_BYTES
from tunesmith.plan.memory import StepShape, peak_memory
from tunesmith.plan.shapes import shape_from_config
from tunesmith.plan.trainable import trainable_params

SMOLLM2 = {"architectures": ["LlamaForCausalLM"], "hidden_size": 576, "num_hidden_layers": 30,
           "intermediate_size": 1536, "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152,
           "tie_word_embeddings": True}


def _method(name: str):
    return ProjectConfig.model_validate({"method": {"name": name, "r": 8, "alpha": 16}}).method


def test_4bit_base_weights_and_lora_trainables():
    shape = shape_from_config(SMOLLM2)
    lora, qlora = _method("lora"), _method("qlora")
    assert trainable_params(shape, qlora) == trainable_params(shape, lora)
    step = StepShape(2, 64, 64)
    plans = {m.name: peak_memory(shape, m, step, trainable_params(shape, m), shape.total_params, 3e8)
             for m in (lora, qlora)}
    linear = shape.layers * shape.layer_linear_params
    assert plans["qlora"].weights == pytest.approx(plans["lora"].weights - linear * (4 - FOUR_BIT_BYTES))
    assert plans["lora"].peak - plans["qlora"].peak == pytest.approx(363e6, rel=0.02)
    assert plans["qlora"].activations == plans["lora"].activations
