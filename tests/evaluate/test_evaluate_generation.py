"""Model calls: batched generation keeps input order; batched reference NLL equals one-at-a-time NLL."""

from __future__ import annotations

import pytest
import torch

from tunesmith.evaluate.generation import generate_answers, reference_nll
from tunesmith.inference import generate_chat, render_prompt
from tunesmith.models.loading import load_causal_lm, load_tokenizer

CONVERSATIONS = [[{"role": "user", "content": "Hi"}],
                 [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "How long is the "
                                                                                           "return window for bikes?"}],
                 [{"role": "user", "content": "Price of the Commuter 2, please, and shipping?"}]]
REFERENCES = ["Hello!", "45 days.", "It costs $1,499 and shipping is free."]


@pytest.fixture(scope="module")
def tiny(tiny_lm_dir):
    return load_causal_lm(tiny_lm_dir), load_tokenizer(tiny_lm_dir)


def test_batched_answers_come_back_in_input_order(tiny):
    model, tokenizer = tiny
    batched = generate_answers(model, tokenizer, CONVERSATIONS, max_new_tokens=5, batch_size=3)
    one_by_one = [generate_chat(model, tokenizer, [c], max_new_tokens=5)[0].text for c in CONVERSATIONS]
    assert batched == one_by_one


def test_reference_nll_is_independent_of_batching_and_matches_a_plain_forward(tiny):
    model, tokenizer = tiny
    batched = reference_nll(model, tokenizer, CONVERSATIONS, REFERENCES, batch_size=3)
    single = reference_nll(model, tokenizer, CONVERSATIONS, REFERENCES, batch_size=1)
    for (a, n), (b, m) in zip(batched, single, strict=True):
        assert n == m and a == pytest.approx(b, rel=1e-4)

    prompt = tokenizer(render_prompt(tokenizer, CONVERSATIONS[2]), add_special_tokens=False)["input_ids"]
    answer = tokenizer(REFERENCES[2], add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([prompt + answer])).logits[0]
    log_probs = torch.log_softmax(logits[len(prompt) - 1: -1].float(), dim=-1)
    expected = -log_probs[torch.arange(len(answer)), torch.tensor(answer)].sum()
    assert batched[2] == (pytest.approx(float(expected), rel=1e-4), len(answer))


def test_answers_equal_transformers_greedy_generate_token_for_token(tiny, hf_greedy):
    model, tokenizer = tiny
    conversations = CONVERSATIONS * 3  # more prompts than rows: finished rows make room for waiting ones
    answers = generate_chat(model, tokenizer, conversations, max_new_tokens=12, batch_size=4)
    expected = hf_greedy(model, tokenizer, conversations, max_new_tokens=12)
    assert [(a.text, a.completion_tokens, a.finish_reason) for a in answers] == \
        [(e.text, e.completion_tokens, e.finish_reason) for e in expected]


def test_evaluation_decodes_through_the_serving_engines_batch_loop(tiny, monkeypatch):
    from tunesmith.serve import batch

    steps = []
    original = batch.RunningBatch.step
    monkeypatch.setattr(batch.RunningBatch, "step", lambda self: steps.append(len(self)) or original(self))
    generate_answers(*tiny, CONVERSATIONS, max_new_tokens=4, batch_size=2)
    assert steps and max(steps) <= 2


def test_sampled_answers_do_not_depend_on_which_prompts_share_the_batch(tiny):
    model, tokenizer = tiny
    together = generate_chat(model, tokenizer, CONVERSATIONS, max_new_tokens=6, temperature=1.0, seed=7,
                             batch_size=3)
    alone = generate_chat(model, tokenizer, CONVERSATIONS, max_new_tokens=6, temperature=1.0, seed=7, batch_size=1)
    assert [a.text for a in together] == [a.text for a in alone]


def test_evaluation_decodes_generation_rows_answers_at_once(tiny, monkeypatch):
    from tunesmith.config.evaluation import EvaluationConfig
    from tunesmith.evaluate.contenders import model_contender
    from tunesmith.serve import batch

    rows = []
    original = batch.RunningBatch.step
    monkeypatch.setattr(batch.RunningBatch, "step", lambda self: rows.append(len(self)) or original(self))
    settings = EvaluationConfig(generation_rows=3, batch_size=1, max_new_tokens=4)
    model_contender("base", *tiny, settings).answer(CONVERSATIONS * 2)
    assert max(rows) == 3, "generation decodes generation_rows answers together, not batch_size"


def test_prompts_sharing_a_long_start_get_its_kv_once_and_the_same_answers(monkeypatch):
    """Held-out prompts share the system prompt, tool schemas and few-shot examples: a batch computes that
    prefix once and each row only its own end, and greedy answers are those of each prompt alone."""
    from tunesmith.models.tiny import lively_causal_lm
    from tunesmith.serve import prefix

    model, tokenizer = lively_causal_lm(1)  # greedy answers that differ from prompt to prompt
    system = {"role": "system", "content": "You are the order and workshop assistant of Larkspur Cycles. " * 6}
    conversations = [[system, {"role": "user", "content": ask}] for ask in
                     ("Hi", "Where is my order LK-10001?", "Cancel order LK-20002, I changed my mind.")]
    fed = []  # tokens computed per forward (a hook: generate() reads the forward's signature)
    model.register_forward_pre_hook(lambda _, args, kwargs: fed.append(kwargs["input_ids"].numel()), with_kwargs=True)
    shared = generate_chat(model, tokenizer, conversations, max_new_tokens=6, batch_size=3)
    shared_fed, fed[:] = sum(fed), []
    monkeypatch.setattr(prefix, "GROUP_MIN_SHARED", 10 ** 6)
    plain = generate_chat(model, tokenizer, conversations, max_new_tokens=6, batch_size=3)
    plain_fed = sum(fed)
    alone = [generate_chat(model, tokenizer, [c], max_new_tokens=6)[0] for c in conversations]
    assert [c.text for c in shared] == [c.text for c in plain] == [c.text for c in alone]
    assert len({c.text for c in alone}) > 1
    assert [c.prompt_tokens for c in shared] == [c.prompt_tokens for c in alone]
    assert shared_fed < plain_fed / 2  # the prefix once instead of once per row
