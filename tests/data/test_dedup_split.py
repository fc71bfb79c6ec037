"""Near-duplicate precision/recall on labelled pairs, group-aware splitting and the leak check."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from tunesmith.config.data import DataConfig
from tunesmith.data import prepare
from tunesmith.data.dedup import (
    NUM_PERM,
    _permutations,
    fingerprint,
    near_duplicate_pairs,
    shingle_hashes,
    signatures,
    similarity,
)
from tunesmith.data.grouping import Deduplicator
from tunesmith.data.split import assign_splits, check_leaks, find_leaks
from tunesmith.errors import TunesmithError

BASE = [
    "How long do I have to return my e-bike after delivery? The return window is 45 days and the label is free.",
    "Can I change the delivery address of my order after paying? Yes, until the bike leaves our warehouse.",
    "What does the Commuter 2 cost with shipping included? It costs 1,499 dollars and shipping is free.",
    "My battery only lasts twenty kilometres, is that normal? No, please book a free battery check online.",
    "Do you ship to Belgium and Germany? We ship to both, delivery takes three to five working days.",
    "How do I reset the display to factory settings? Hold the power and minus buttons for ten seconds.",
    "Is there a student discount on accessories? Students get fifteen percent off helmets and locks.",
    "Where can I find the serial number of the frame? It is engraved under the bottom bracket.",
    "Which tyre pressure do you recommend for city riding? Between three and four bar for city tyres.",
    "Can I pay in instalments for the Trail 5? Yes, twelve monthly payments without interest are possible.",
    "What is covered by the CarePlus plan? A yearly tune-up and free brake pads for nine dollars a month.",
    "How heavy is the folding model with the battery? The Fold 1 weighs nineteen kilograms with battery.",
]
# Distinct items that share a template or many words with a BASE item: must not be merged.
HARD_NEGATIVES = [
    (0, "How long do I have to return a helmet after purchase? Helmets can be returned within 14 days if unworn."),
    (2, "What does the Trail 5 cost with the larger battery? It costs 2,299 dollars and shipping is 49 dollars."),
    (4, "Do you ship to Canada and Mexico? Not yet, we only deliver inside the European Union for now."),
    (6, "Is there a teacher discount on bikes? Teachers get ten percent off any bike with a valid school ID."),
    (9, "Can I pay with PayPal for the Commuter 2? Yes, PayPal, cards and bank transfer are all accepted."),
    (10, "What is excluded from the CarePlus plan? Crash damage and tyres are not covered by the plan."),
]


def small_edit(text: str, rng: random.Random) -> str:
    """A paraphrase with a small edit: typo, dropped/duplicated word, case or punctuation change."""
    words = text.split()
    kind = rng.choice(["typo", "drop", "dup", "case", "punct", "swap"])
    i = rng.randrange(1, len(words) - 1)
    if kind == "typo":
        word = words[i]
        j = rng.randrange(len(word))
        words[i] = word[:j] + rng.choice("aeiourst") + word[j + 1:]
    elif kind == "drop":
        del words[i]
    elif kind == "dup":
        words.insert(i, words[i])
    elif kind == "case":
        return text.upper() if rng.random() < 0.5 else text.lower()
    elif kind == "punct":
        return text.replace("?", " ?!").replace(",", "")
    else:
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def labelled_pairs(seed: int = 0) -> list[tuple[str, str, bool]]:
    rng = random.Random(seed)
    pairs = [(text, small_edit(text, rng), True) for text in BASE for _ in range(4)]
    pairs += [(BASE[i], text, False) for i, text in HARD_NEGATIVES]
    pairs += [(a, b, False) for k, a in enumerate(BASE) for b in BASE[k + 1:]]
    return pairs


def test_near_duplicate_precision_and_recall_on_labelled_pairs():
    """Measured through the real LSH index (Deduplicator), not only the signature similarity."""
    pairs = labelled_pairs()
    predicted = []
    for a, b, _ in pairs:
        with Deduplicator(DataConfig(near_duplicates="keep", exact_duplicates="keep"), Counter()) as dedup:
            for text in (a, b):
                dedup.add({"id": text[:10], "text": text, "meta": {}}, None, 0)
            dedup.finish()
            predicted.append(dedup.groups.find(0) == dedup.groups.find(1))
    truth = [label for _, _, label in pairs]
    true_positive = sum(p and t for p, t in zip(predicted, truth, strict=True))
    precision = true_positive / max(sum(predicted), 1)
    recall = true_positive / sum(truth)
    assert sum(truth) == 48 and len(truth) - sum(truth) == 72
    assert precision == 1.0, [pair for pair, p in zip(pairs, predicted, strict=True) if p and not pair[2]]
    assert recall >= 0.9, [pair for pair, p in zip(pairs, predicted, strict=True) if not p and pair[2]]


def test_vectorized_signatures_equal_datasketch_minhash():
    from datasketch import MinHash

    a, b = MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32").permutations
    assert (_permutations(NUM_PERM, 1)[0] == a).all() and (_permutations(NUM_PERM, 1)[1] == b).all()
    for text in (BASE[0], "short", ""):
        reference = MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32", hashfunc=int)
        reference.update_batch(shingle_hashes(text).tolist())
        assert (signatures([text])[0] == reference.hashvalues).all()


def test_signature_similarity_tracks_edit_size():
    text = BASE[0]
    sig = signatures([text, text.replace("45", "46"), text[: len(text) // 2], BASE[1]])
    assert similarity(sig[0], sig[0]) == 1.0
    assert similarity(sig[0], sig[1]) > 0.85 > similarity(sig[0], sig[2]) > similarity(sig[0], sig[3])


def test_dedup_drops_exact_and_near_duplicates_and_counts_conflicts():
    counts = Counter()
    with Deduplicator(DataConfig(), counts) as dedup:
        rows = [("q1", BASE[0], "a"), ("q2", BASE[0], "a"), ("q3", small_edit(BASE[1], random.Random(1)), "a"),
                ("q4", BASE[1], "a"), ("q5", BASE[2], "x"), ("q6", BASE[2], "y"), ("q7", BASE[3], "a")]
        for record_id, text, label in rows:
            dedup.add({"id": record_id, "text": text, "label": label, "meta": {}}, None, 0)
        keep = dedup.finish()
        kept = [dedup.store.ids[i] for i in keep]
        assert kept == ["q1", "q3", "q5", "q6", "q7"]
        assert counts["dropped_exact_duplicates"] == 1 and counts["dropped_near_duplicates"] == 1
        assert counts["conflicting_duplicates"] == 2  # q5/q6: same text, different label
        assert dedup.conflict_examples == [{"ids": ["q5", "q6"], "input": BASE[2]}]
        position = {record_id: i for i, record_id in enumerate(dedup.store.ids)}
        assert dedup.groups.find(position["q5"]) == dedup.groups.find(position["q6"])  # one split for conflicts


def test_split_is_seeded_stratified_and_group_aware():
    labels = ["a"] * 60 + ["b"] * 40
    groups = [i // 4 for i in range(100)]  # 25 groups of 4
    first = assign_splits(groups, labels, [None] * 100, 0.2, 0.2, seed=3)
    assert first == assign_splits(groups, labels, [None] * 100, 0.2, 0.2, seed=3)
    assert first != assign_splits(groups, labels, [None] * 100, 0.2, 0.2, seed=4)
    for group in set(groups):
        assert len({first[i] for i in range(100) if groups[i] == group}) == 1
    per_label = Counter(zip(labels, first, strict=True))
    assert per_label[("a", "test")] == 12 and per_label[("b", "test")] == 8
    assert per_label[("a", "validation")] == 12 and per_label[("b", "validation")] == 8


def test_leak_check_catches_an_injected_near_duplicate():
    texts = list(BASE)
    ids = [f"r{i}" for i in range(len(texts))]
    splits = ["train"] * 8 + ["test"] * 4
    inputs = [fingerprint(t) for t in texts]
    assert find_leaks(ids, splits, inputs, *near_duplicate_pairs(signatures(texts), 0.8)) == []
    texts.append(small_edit(BASE[3], random.Random(5)))  # a paraphrase of a train item, injected into test
    ids.append("injected")
    splits.append("test")
    inputs.append(fingerprint(texts[-1]))
    leaks = find_leaks(ids, splits, inputs, *near_duplicate_pairs(signatures(texts), 0.8))
    assert [(leak.held_out_id, leak.train_id) for leak in leaks] == [("injected", "r3")]
    with pytest.raises(TunesmithError, match="injected"):
        check_leaks(leaks)


def chat(question: str, answer: str) -> dict:
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}


def test_a_near_duplicate_of_a_pinned_test_item_is_dropped_from_train_never_moved_into_test(make_project):
    train = [chat(*text.split("? ", 1)) for text in BASE]
    question, answer = BASE[5].split("? ", 1)
    test = [chat("Is the Fold 1 waterproof?", "It resists rain but should not be submerged."),
            chat(question + "?", answer.replace("ten", "10"))]  # a near-duplicate of a train item
    for mode in ("drop", "keep"):
        for pin in ("train", "auto"):
            project = make_project({"near_duplicates": mode, "sources": [
                {"path": "train.jsonl", "split": pin}, {"path": "test.jsonl", "split": "test"}]},
                files={"train.jsonl": train, "test.jsonl": test})
            dataset = prepare(project)
            assert dataset.split("test") == [{**r, "id": f"test-{k + 1}", "meta": {}} for k, r in enumerate(test)]
            held = [r["messages"][0]["content"] for name in ("train", "validation") for r in dataset.split(name)]
            assert question + "?" not in held and len(held) == len(BASE) - 1
            assert dataset.manifest["counts"]["dropped_leaks"] == 1


def test_meta_group_and_near_duplicates_keep_paraphrases_in_one_split(make_project):
    rows = []
    for k, text in enumerate(BASE):
        question, answer = text.split("? ", 1)
        rows.append({**chat(question + "?", answer), "metadata": {"group": f"g{k}"}})
        rows.append({**chat(f"Quick one: {question.lower()}?", answer), "metadata": {"group": f"g{k}"}})
        rows.append(chat(question.replace(" ", "  ", 1) + " ?", answer))  # a near-duplicate without a group
    project = make_project({"near_duplicates": "keep", "test_share": 0.25, "sources": [{"path": "qa.jsonl"}]},
                           files={"qa.jsonl": rows})
    dataset = prepare(project)
    where = {}
    for name in ("train", "validation", "test"):
        for record in dataset.split(name):
            answer = record["messages"][-1]["content"]
            where.setdefault(answer, set()).add(name)
    assert dataset.split("test")
    assert all(len(splits) == 1 for splits in where.values()), where
