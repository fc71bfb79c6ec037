"""Many adapters on one base: selected by `model`, loaded lazily, evicted least-recently-used."""

from __future__ import annotations

from tunesmith.inference import generate_chat
from tunesmith.models.loading import load_causal_lm, load_tokenizer

ASK = [{"role": "user", "content": "Can I change my delivery address?"}]


def _expected(base_dir, adapter_dir=None):
    from peft import PeftModel

    model = load_causal_lm(str(base_dir))
    if adapter_dir is not None:
        model = PeftModel.from_pretrained(model, str(adapter_dir))
    return generate_chat(model, load_tokenizer(str(base_dir)), [ASK], max_new_tokens=8)[0].text


def test_each_adapter_answers_like_its_own_peft_model(lively_lm_dir, adapter_dirs, start_server):
    expected = {d.name: _expected(lively_lm_dir, d) for d in adapter_dirs[:2]}
    expected[lively_lm_dir.name] = _expected(lively_lm_dir)
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
