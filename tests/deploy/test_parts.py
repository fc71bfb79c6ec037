"""Pure pieces of export: the Ollama template derivation and the parity comparison."""

from __future__ import annotations

import gguf
import numpy as np
import pytest

from tunesmith.deploy.modelfile import go_template, render_parts, template_parts
from tunesmith.deploy.parity import Answer, compare
from tunesmith.models.tiny import real_tokenizer

CONVERSATIONS = [
    [{"role": "user", "content": "hi"}],
    [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "a"},
     {"role": "assistant", "content": "b"}, {"role": "user", "content": "c\nd"}],
]


@pytest.mark.parametrize("conversation", CONVERSATIONS)
def test_template_parts_reproduce_the_jinja_template(conversation):
    tokenizer = real_tokenizer("smollm2-135m-instruct")
    parts = template_parts(tokenizer)
    expected = tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
    assert render_parts(parts, conversation) == expected
    assert parts.prefix["assistant"] in go_template(parts)


def test_compare_reports_rates_and_the_first_divergence():
    prompts = [[{"role": "user", "content": f"q{i}"}] for i in range(4)]
    reference = [Answer([1, 2], "Paris is nice"), Answer([3], "ok"), Answer([4], "yes"), Answer([5], "no")]
    candidate = [Answer([1, 2], "Paris is nice"), Answer([3], "ok"), Answer([4], "yep"), Answer([5], "no")]
    report = compare(prompts, reference, candidate, threshold=0.75)
    assert report["exact_match_rate"] == 0.75 and report["prompt_token_match_rate"] == 1.0 and report["passed"]
    assert report["first_divergence"]["prompt_index"] == 2 and report["first_divergence"]["answer_char_index"] == 2
    assert report["mean_shared_prefix"] == round((3 + 2 / 3) / 4, 3), "share of each answer reproduced"
    assert not compare(prompts, reference, candidate, threshold=0.8)["passed"]
    changed = [Answer([1, 9], "Paris is nice"), *candidate[1:]]
    strict = compare(prompts, reference, changed, threshold=0.5)
    assert not strict["passed"], "a changed prompt rendering fails parity even when answers agree"
    assert strict["first_divergence"]["prompt_token_index"] == 1


def test_q8_0_blocks_round_trip_closely():
    data = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)
    packed = gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0)
    restored = gguf.quants.dequantize(packed, gguf.GGMLQuantizationType.Q8_0)
    assert np.abs(restored - data).max() < 0.02
