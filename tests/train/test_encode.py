from tunesmith.inference import render_prompt
from tunesmith.train.encode import IGNORE, encode_chat, encode_records, encode_text


def _targets(example):
    return [t for t in example.labels if t != IGNORE]


def test_single_turn_targets_are_answer_plus_end_of_turn(tiny_lm_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_lm_dir)
    messages = [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue, mostly."}]
    ex = encode_chat(tok, {"messages": messages}, max_length=512)
    answer = tok("Blue, mostly.", add_special_tokens=False)["input_ids"]
    assert _targets(ex) == [*answer, tok.eos_token_id]
    prompt = tok(render_prompt(tok, messages[:1]), add_special_tokens=False)["input_ids"]
    # What the model reads before the answer is exactly what generation will give it.
    assert ex.input_ids[:len(prompt)] == prompt
    assert ex.input_ids[len(prompt):] == [*answer, tok.eos_token_id]
    assert all(t == IGNORE for t in ex.labels[:len(prompt)])


def test_multi_turn_weights_and_prompt_context(tiny_lm_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_lm_dir)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello there", "weight": 0},
                {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Goodbye"}]
    ex = encode_chat(tok, {"messages": messages}, max_length=512)
    goodbye = tok("Goodbye", add_special_tokens=False)["input_ids"]
    assert _targets(ex) == [*goodbye, tok.eos_token_id]
    assert tok.decode(ex.input_ids) == render_prompt(tok, messages[:4]) + "Goodbye" + tok.eos_token
    messages[2]["weight"] = 1
    both = encode_chat(tok, {"messages": messages}, max_length=512)
    hello = tok("Hello there", add_special_tokens=False)["input_ids"]
    assert _targets(both) == [*hello, tok.eos_token_id, *goodbye, tok.eos_token_id]


def test_truncation_and_empty_targets(tiny_lm_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_lm_dir)
    long_prompt = {"messages": [{"role": "user", "content": "word " * 200}, {"role": "assistant", "content": "ok"}]}
    assert encode_chat(tok, long_prompt, max_length=32) is None  # the answer was cut off: nothing to learn
    assert encode_records(tok, [long_prompt], "chat", 32) == []
    windows = encode_text(tok, {"text": "one two three " * 50}, max_length=40)
    assert len(windows) > 1 and all(len(w) <= 40 for w in windows)
    assert windows[-1].input_ids[-1] == tok.eos_token_id


def test_classification_labels(tiny_encoder_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_encoder_dir)
    records = [{"text": "good", "label": "pos"}, {"text": "bad", "label": "neg"}]
    examples = encode_records(tok, records, "classification", 32)
    assert [ex.labels for ex in examples] == [[1], [0]]  # labels sorted: neg=0, pos=1


def test_text_pairs_keep_their_segments(tiny_encoder_dir):
    from transformers import AutoTokenizer

    from tunesmith.train.batching import collate

    tok = AutoTokenizer.from_pretrained(tiny_encoder_dir)
    records = [{"text": "is it open", "text_pair": "yes until nine", "label": "a"}, {"text": "hi", "label": "b"}]
    pair, single = encode_records(tok, records, "classification", 32)
    assert pair.segments == tok("is it open", "yes until nine")["token_type_ids"] and 1 in pair.segments
    batch = collate([pair, single], tok.pad_token_id, classification=True)
    assert batch["token_type_ids"][0].tolist()[:len(pair)] == pair.segments
    assert batch["token_type_ids"][1].sum() == 0
