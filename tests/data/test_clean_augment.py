"""Cleaning steps (switchable, counted), mixing weights, augmentation and the small-class warning."""

from __future__ import annotations

import random

from tunesmith.data import prepare
from tunesmith.data.augment import augment_classification, augment_text
from tunesmith.data.clean import mask_pii, normalize_text, strip_html
from tunesmith.data.paraphrase import acceptable, with_question


def test_normalize_repairs_mojibake_and_tidies_whitespace_but_keeps_indentation():
    assert normalize_text("  cafÃ© costs 3â‚¬  ") == "café costs 3€"
    assert normalize_text("def f():\n    return 1   \n\n\n\nend") == "def f():\n    return 1\n\nend"
    assert normalize_text("plain ascii stays") == "plain ascii stays"


def test_strip_html_removes_tags_and_entities_only():
    assert strip_html("<p>Hello <b>there</b></p><p>Bye &amp; thanks</p>") == "Hello there\nBye & thanks"
    assert strip_html("if a < b and c > d: use <T> generics") == "if a < b and c > d: use <T> generics"


def test_mask_pii_emails_phones_and_luhn_valid_cards():
    text = "Mail jo.doe+x@mail.example.com or call +31 20 123 4567; card 4111 1111 1111 1111, order 1234567890123"
    assert mask_pii(text) == "Mail [EMAIL] or call [PHONE]; card [CARD], order 1234567890123"


def test_cleaning_is_switchable_and_counted(make_project):
    rows = [{"text": "<b>Great</b> bike", "label": "pos"}, {"text": "mail me: a@b.example.org", "label": "neg"},
            {"text": "  spaced   ", "label": "neg"}, {"text": "<br>", "label": "pos"}]
    project = make_project({"mask_pii": True, "sources": [{"path": "c.jsonl"}], "validation_share": 0,
                            "test_share": 0},
                           task="classification", files={"c.jsonl": rows})
    dataset = prepare(project)
    counts = dataset.manifest["counts"]
    assert (counts["html_stripped"], counts["pii_masked"], counts["normalized"], counts["rejected"]) == (2, 1, 1, 1)
    assert sorted(r["text"] for r in dataset.split("train")) == ["Great bike", "mail me: [EMAIL]", "spaced"]
    project.config.data.strip_html = False
    project.config.data.mask_pii = False
    texts = sorted(r["text"] for r in prepare(project).split("train"))
    assert texts == ["<b>Great</b> bike", "<br>", "mail me: a@b.example.org", "spaced"]


def test_source_weights_repeat_or_subsample_training_records(make_project, chat_rows):
    project = make_project({"validation_share": 0, "test_share": 0, "sources": [
        {"path": "a.jsonl", "weight": 2.0}, {"path": "b.jsonl", "weight": 0.5}]},
        files={"a.jsonl": chat_rows(10), "b.jsonl": chat_rows(40, start=100)})
    dataset = prepare(project)
    ids = [r["id"] for r in dataset.split("train")]
    assert sum(i.startswith("a-") for i in ids) == 20 and sum("#r2" in i for i in ids) == 10
    assert 10 <= sum(i.startswith("b-") for i in ids) <= 30
    assert dataset.manifest["counts"]["weight_repeats"] == 10


def test_classification_augmentation_marks_variants_and_only_touches_train(make_project):
    rng = random.Random(0)
    words = ["good", "bad", "fast", "slow", "bike", "help", "order", "price", "movie", "broken", "cheap", "late"]
    rows = [{"text": " ".join(rng.choice(words) for _ in range(8)) + f" {i}", "label": "a" if i % 3 else "b"}
            for i in range(60)]
    project = make_project({"test_share": 0.2, "sources": [{"path": "c.jsonl"}],
                            "augment": {"copies": 2, "only_below": 20}}, task="classification",
                           files={"c.jsonl": rows})
    dataset = prepare(project)
    train = dataset.split("train")
    augmented = [r for r in train if r["meta"].get("augmented")]
    originals = {r["id"]: r for r in train if not r["meta"].get("augmented")}
    assert augmented and all(r["label"] == "b" for r in augmented)  # only the class below 20 examples
    assert all(r["text"] != originals[r["meta"]["augmented_from"]]["text"] for r in augmented)
    assert not any(r["meta"].get("augmented") for r in dataset.split("test") + dataset.split("validation"))
    assert dataset.manifest["counts"]["augmented"] == len(augmented)


def test_augment_text_changes_a_few_words():
    rng = random.Random(3)
    text = "the bike was very good but the delivery was late and the price was expensive"
    variants = {augment_text(text, 0.1, rng) for _ in range(20)}
    assert len(variants) > 5 and text not in variants
    assert all(abs(len(v.split()) - len(text.split())) <= 4 for v in variants)
    assert augment_classification([{"id": "x", "text": "ok", "label": "a", "meta": {}}], 3, 0.1, None, 0) == []


def test_small_class_warning_in_manifest(make_project):
    rows = [{"text": f"positive review number {i} of the bike", "label": "pos"} for i in range(30)]
    rows += [{"text": "terrible bike, broke on day one", "label": "neg"}]
    project = make_project({"sources": [{"path": "c.jsonl"}], "validation_share": 0}, task="classification",
                           files={"c.jsonl": rows})
    warnings = prepare(project).manifest["warnings"]
    assert [w["message"] for w in warnings] == ["class 'neg' has only 1 training examples"]


def test_paraphrase_filter_and_marking():
    assert acceptable("How long is the return window?", "What is the time limit for returns?")
    assert not acceptable("How long is the return window?", "how long is the return window?")
    assert not acceptable("How long is the return window?", "")
    record = {"id": "r1", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
              "meta": {"facts": ["x"]}}
    variant = with_question(record, "q2", 1)
    assert variant["messages"][0]["content"] == "q2" and variant["messages"][1]["content"] == "a"
    assert variant["meta"] == {"facts": ["x"], "augmented": True, "augmented_from": "r1"}
    assert record["messages"][0]["content"] == "q"


def test_chat_paraphrase_augmentation_with_a_tiny_model(make_project, chat_rows, tiny_lm_dir, monkeypatch):
    import tunesmith.data.paraphrase as paraphrase

    monkeypatch.setattr(paraphrase, "acceptable", lambda question, text: bool(text.strip()))  # random weights
    project = make_project({"validation_share": 0, "test_share": 0, "sources": [{"path": "chat.jsonl"}],
                            "augment": {"copies": 2, "paraphrase": True}},  # copy 2 samples: non-empty
                           files={"chat.jsonl": chat_rows(4)})
    project.config.model.name = str(tiny_lm_dir)
    train = prepare(project).split("train")
    augmented = [r for r in train if r["meta"].get("augmented")]
    assert augmented and len(train) == 4 + len(augmented)
    originals = {r["id"]: r for r in train}
    for record in augmented:
        source = originals[record["meta"]["augmented_from"]]
        assert record["messages"][-1] == source["messages"][-1]
        assert record["messages"][0]["content"] != source["messages"][0]["content"]


def test_spelling_report_lists_rare_unknown_words(make_project, chat_rows):
    rows = chat_rows(6)
    rows[0]["messages"][1]["content"] = "You will recieve the refund, definately within a week."
    project = make_project({"spelling_report": True, "sources": [{"path": "chat.jsonl"}]},
                           files={"chat.jsonl": rows})
    spelling = prepare(project).manifest["spelling"]
    by_word = {entry["word"]: entry["suggestion"] for entry in spelling}
    assert by_word["recieve"] == "receive" and by_word["definately"] == "definitely"
    assert "refund" not in by_word
