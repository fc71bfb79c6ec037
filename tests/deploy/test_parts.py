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


def test_teacher_forced_agreement_counts_positions_not_whole_answers():
    from tunesmith.deploy.agreement import agreement, first_difference, targets_of

    reference = Answer([1], "a b c", [5, 6, 7], end_id=2)
    assert targets_of(reference) == [5, 6, 7, 2], "the end-of-turn token is scored too"
    assert targets_of(Answer([1], "cut", [5, 6])) == [5, 6], "an answer cut at max tokens has no end token"
    assert agreement([5, 6, 7, 2], [5, 9, 7, 2]) == (3, 4)
    assert first_difference([5, 6, 7], [5, 6, 7]) is None
    assert first_difference([5, 6, 7], [5, 9, 7]) == 1 and first_difference([5, 6, 7], [5, 6]) == 2
    with pytest.raises(ValueError):
        agreement([5, 6], [5])


def test_agreement_gate_passes_one_flipped_token_but_not_a_changed_prompt():
    prompts = [[{"role": "user", "content": f"q{i}"}] for i in range(2)]
    reference = [Answer([1], "x", [4, 5, 6, 7, 8], end_id=2), Answer([3], "y", [9, 9, 9], end_id=2)]
    # One near-tied token flipped early: greedy decoding then goes elsewhere for the rest of the answer.
    candidate = [Answer([1], "z", [4, 11, 12, 13, 14], end_id=2), Answer([3], "y", [9, 9, 9], end_id=2)]
    predicted = [[4, 11, 6, 7, 8, 2], [9, 9, 9, 2]]
    report = compare(prompts, reference, candidate, 0.9, predicted=predicted, gate="next_token_agreement")
    assert report["exact_match_rate"] == 0.5 and report["next_token_agreement"] == round(9 / 10, 4)
    assert report["passed"] and report["gate"] == "next_token_agreement" and report["scored_tokens"] == 10
    assert report["mean_first_divergence"] == (1 + 4) / 2, "token index of the first difference; whole length if none"
    assert report["first_divergence"]["answer_token_index"] == 1
    assert not compare(prompts, reference, candidate, 0.9, predicted=predicted)["passed"], "exact match fails it"
    changed = [Answer([1, 0], "x", [4, 5, 6, 7, 8], end_id=2), reference[1]]
    perfect = [[4, 5, 6, 7, 8, 2], [9, 9, 9, 2]]
    broken = compare(prompts, reference, changed, 0.9, predicted=perfect, gate="next_token_agreement")
    assert broken["next_token_agreement"] == 1.0 and not broken["passed"], "a changed prompt fails every gate"
    with pytest.raises(ValueError):
        compare(prompts, reference, candidate, 0.9, gate="next_token_agreement")
