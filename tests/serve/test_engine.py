"""The engine: batched, continuously joined decoding gives exactly what plain generate gives."""

from __future__ import annotations

import asyncio

import pytest

from tunesmith.serve.engine import Engine, QueueFullError
from tunesmith.serve.registry import ModelRegistry
from tunesmith.serve.sampling import SamplingParams, releasable

QUESTIONS = ["hi", "What is the capital of France?", "Tell me a long story about dragons and knights, please.",
             "2+2", "Refund order 77", "Why is the sky blue?"]


@pytest.fixture(scope="module")
def registry(lively_lm_dir):
    return ModelRegistry.from_paths([lively_lm_dir], linear_kernel="onednn")


@pytest.fixture(scope="module")
def plain(lively_lm_dir):
    """The same model with torch's own nn.Linear: answers must not depend on the GEMM the server uses."""
    from tunesmith.models.loading import load_causal_lm, load_tokenizer

    return load_causal_lm(str(lively_lm_dir)).eval(), load_tokenizer(str(lively_lm_dir))


def _prompt_ids(registry, model_id, question):
    from tunesmith.inference import render_prompt

    tokenizer = registry.tokenizer(model_id)
    return tokenizer(render_prompt(tokenizer, [{"role": "user", "content": question}]),
                     add_special_tokens=False)["input_ids"]


async def _run_all(engine, model_id, jobs, stagger: float = 0.0):
    async def one(ids, params, delay):
        await asyncio.sleep(delay)
        return await engine.complete(model_id, ids, params)

    return await asyncio.gather(*(one(ids, params, i * stagger) for i, (ids, params) in enumerate(jobs)))


def test_batched_and_joining_requests_match_sequential_generate(registry, lively_lm_dir, plain, hf_greedy):
    model_id = lively_lm_dir.name
    lengths = [5, 14, 9, 3, 11, 7]  # rows finish at different steps; later ones join a running batch
    jobs = [(_prompt_ids(registry, model_id, q), SamplingParams(max_tokens=n)) for q, n in zip(QUESTIONS, lengths,
                                                                                                strict=True)]
    engine = Engine(registry, max_batch_size=4, batch_window_ms=5, max_queue=16).start()
    try:
        results = asyncio.run(_run_all(engine, model_id, jobs, stagger=0.01))
    finally:
        engine.stop()
    assert registry.acquire(model_id).model.tunesmith_onednn, "the engine ran on oneDNN linear layers"
    for question, n, (text, done) in zip(QUESTIONS, lengths, results, strict=True):
        expected = hf_greedy(*plain, [[{"role": "user", "content": question}]], max_new_tokens=n)[0]
        assert text.strip() == expected.text, question
        assert done.completion_tokens == n
    assert engine.stats.decode_steps < sum(lengths), "requests should have shared decode steps"
    assert engine.stats.batched_rows / engine.stats.decode_steps > 1.5


def test_queue_is_bounded(registry, lively_lm_dir):
    engine = Engine(registry, max_batch_size=2, max_queue=2)  # not started: nothing drains the queue
    params = SamplingParams(max_tokens=1)
    engine.submit(lively_lm_dir.name, [1, 2], params, lambda _: None)
    engine.submit(lively_lm_dir.name, [1, 2], params, lambda _: None)
    with pytest.raises(QueueFullError):
        engine.submit(lively_lm_dir.name, [1, 2], params, lambda _: None)


def test_releasable_holds_back_partial_stop_strings_and_broken_characters():
    assert releasable("Hello wor", ("world",), final=False) == ("Hello ", False)
    assert releasable("Hello world!", ("world",), final=False) == ("Hello ", True)
    assert releasable("abc\ufffd", (), final=False) == ("abc", False)
    assert releasable("Hello wor", ("world",), final=True) == ("Hello wor", False)
    assert releasable("a</s", ("</s>", "END"), final=False) == ("a", False)


@pytest.mark.parametrize("max_kept", [1024, 12])  # 12: only the first 12 tokens of the last prompt are kept
def test_prefix_reuse_gives_the_same_answers_as_a_full_prefill(registry, lively_lm_dir, plain, max_kept, monkeypatch,
                                                                hf_greedy):
    from tunesmith.serve import prefix
    from tunesmith.serve.batch import RunningBatch, Sequence

    monkeypatch.setattr(prefix, "MAX_KEPT", max_kept)

    model_id = lively_lm_dir.name
    loaded = registry.acquire(model_id)
    loaded.prefix = None

    def answer(questions: list[str], n: int = 8) -> list[list[int]]:
        seqs = [Sequence(model_id, _prompt_ids(registry, model_id, q), SamplingParams(max_tokens=n), lambda _: None)
                for q in questions]
        batch = RunningBatch(loaded)
        batch.add(seqs)
        while len(batch):
            batch.step()
        return [s.ids for s in seqs]

    answer([QUESTIONS[0]])  # remembers this prompt's KV
    later = QUESTIONS[1:4]
    shared = prefix.shared_length(loaded.prefix, [_prompt_ids(registry, model_id, q) for q in later])
    assert prefix.MIN_SHARED <= shared <= max_kept, "chat prompts share the template's opening; it should be reused"
    reused = answer(later)
    for question, ids in zip(later, reused, strict=True):
        expected = hf_greedy(*plain, [[{"role": "user", "content": question}]], max_new_tokens=8)[0]
        assert loaded.tokenizer.decode(ids, skip_special_tokens=True).strip() == expected.text, question
