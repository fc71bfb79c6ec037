"""Many adapters on one base: selected by `model`, loaded lazily, evicted least-recently-used."""

from __future__ import annotations

from tunesmith.models.loading import load_causal_lm, load_tokenizer

ASK = [{"role": "user", "content": "Can I change my delivery address?"}]


def _expected(hf_greedy, base_dir, adapter_dir=None):
    from peft import PeftModel

    model = load_causal_lm(str(base_dir))
    if adapter_dir is not None:
        model = PeftModel.from_pretrained(model, str(adapter_dir))
    return hf_greedy(model, load_tokenizer(str(base_dir)), [ASK], max_new_tokens=8)[0].text


def test_each_adapter_answers_like_its_own_peft_model(lively_lm_dir, adapter_dirs, start_server, hf_greedy):
    expected = {d.name: _expected(hf_greedy, lively_lm_dir, d) for d in adapter_dirs[:2]}
    expected[lively_lm_dir.name] = _expected(hf_greedy, lively_lm_dir)
    assert len(set(expected.values())) == 3, "adapters must change the answer for this test to mean anything"
    with start_server(adapter_dirs[:2], max_loaded_models=1) as (client, _, app):
        listed = {m.id for m in client.models.list().data}
        assert listed == set(expected), "the base of the adapters is offered too"
        assert app.state.registry.loaded_ids == [], "nothing loads before it is asked for"
        # Alternate so that the one-slot LRU evicts and reloads adapters between requests.
        for name in [adapter_dirs[0].name, adapter_dirs[1].name, lively_lm_dir.name, adapter_dirs[0].name]:
            reply = client.chat.completions.create(model=name, messages=ASK, max_tokens=8, temperature=0)
            assert reply.choices[0].message.content.strip() == expected[name], name
        assert app.state.registry.loaded_ids == [adapter_dirs[0].name]
        peft_model = app.state.registry._bases[str(lively_lm_dir)]
        assert set(peft_model.peft_config) == {adapter_dirs[0].name}, "evicted adapters are unloaded"


def test_lora_adapters_and_their_base_share_one_batch(lively_lm_dir, adapter_dirs):
    import asyncio

    from tunesmith.inference import render_prompt
    from tunesmith.serve.engine import Engine
    from tunesmith.serve.registry import ModelRegistry
    from tunesmith.serve.sampling import SamplingParams

    registry = ModelRegistry.from_paths(adapter_dirs)
    names = [d.name for d in adapter_dirs] + [lively_lm_dir.name]
    assert len({registry.batch_group(n) for n in names}) == 1
    tokenizer = registry.tokenizer(names[0])
    questions = ["Can I change my delivery address?", "Where is my refund?"]
    # The base comes first: its rows start the batch on the plain model, then adapters attach and join.
    names = names[-1:] + names[:-1]
    jobs = [(name, tokenizer(render_prompt(tokenizer, [{"role": "user", "content": q}]),
                             add_special_tokens=False)["input_ids"]) for name in names for q in questions]
    engine = Engine(registry, max_batch_size=8, batch_window_ms=50, max_queue=16).start()
    try:
        async def run(together: bool):
            params = SamplingParams(max_tokens=8)
            if together:
                return await asyncio.gather(*(engine.complete(name, ids, params) for name, ids in jobs))
            return [await engine.complete(name, ids, params) for name, ids in jobs]

        mixed = asyncio.run(run(together=True))
        mixed_steps = engine.stats.decode_steps
        alone = asyncio.run(run(together=False))
    finally:
        engine.stop()
    texts = [text for text, _ in alone]
    assert len({texts[i] for i in range(0, len(texts), len(questions))}) == len(names), "adapters must differ"
    assert [text for text, _ in mixed] == texts
    assert mixed_steps <= 8 + 1, f"one batch of {len(jobs)} rows should take ~8 steps, took {mixed_steps}"
