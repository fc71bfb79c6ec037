"""The promotion rule, corrections as records, leak filtering, --when conditions and the lock (no models)."""

from __future__ import annotations

import multiprocessing

import pytest

from tunesmith.config import FeedbackConfig
from tunesmith.errors import TunesmithError
from tunesmith.feedback.dataset import feedback_records, split_overlaps
from tunesmith.feedback.improve import decide
from tunesmith.feedback.schedule import ImproveLocked, condition_met, improve_lock, parse_condition

SETTINGS = FeedbackConfig(promotion_margin=0.05, significance=0.05)


def test_a_clear_significant_win_is_promoted():
    production = [0.2, 0.3, 0.1, 0.4, 0.2, 0.3, 0.25, 0.1, 0.3, 0.2, 0.15, 0.35]
    candidate = [p + 0.3 for p in production]
    decision = decide("token_f1", candidate, production, SETTINGS, samples=500)
    assert decision.promote and decision.difference == pytest.approx(0.3) and decision.p_value < 0.05


def test_a_win_below_the_margin_or_not_significant_keeps_production():
    production = [0.5] * 12
    small = decide("token_f1", [0.52] * 12, production, SETTINGS, samples=500)
    assert not small.promote and "margin" in small.reason
    noisy = decide("token_f1", [0.9, 0.1, 0.9, 0.1, 0.95, 0.5], [0.5] * 6, SETTINGS, samples=500)
    assert not noisy.promote and "not significant" in noisy.reason
    worse = decide("token_f1", [0.1] * 12, production, SETTINGS, samples=500)
    assert not worse.promote and worse.difference < 0


def test_lower_is_better_metrics_count_a_drop_as_a_gain():
    production = [2.0 + 0.01 * i for i in range(12)]
    decision = decide("reference_nll", [p - 0.5 for p in production], production, SETTINGS, samples=500)
    assert decision.promote and decision.difference == pytest.approx(0.5)


def test_corrections_become_chat_or_classification_records():
    rows = [{"id": 1, "response_id": "r1", "correction": "Fixed.", "label": None,
             "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q?"},
                          {"role": "assistant", "content": "wrong"}]},
            {"id": 2, "response_id": None, "correction": "No prompt.", "label": None, "messages": []},
            {"id": 3, "response_id": "r3", "correction": None, "label": "billing",
             "messages": [{"role": "user", "content": "Refund?"}]}]
    chat = feedback_records(rows, "chat")
    assert chat == [{"id": "feedback-1", "messages": [{"role": "system", "content": "Be brief."},
                                                      {"role": "user", "content": "Q?"},
                                                      {"role": "assistant", "content": "Fixed."}],
                     "meta": {"source": "feedback", "feedback_id": 1, "response_id": "r1"}}]
    labels = feedback_records(rows, "classification")
    assert [(r["text"], r["label"]) for r in labels] == [("Q?", "Fixed."), ("Refund?", "billing")]


def _chat(question, answer):
    return {"id": question, "messages": [{"role": "user", "content": question},
                                         {"role": "assistant", "content": answer}]}


def test_corrections_that_would_leak_the_test_set_are_dropped():
    test = [_chat("How do I true a buckled rear wheel at home?", "Use a truing stand.")]
    train = [_chat("Which tyre pressure suits gravel riding?", "About 35 psi.")]
    candidates = [_chat("How do I true a buckled rear wheel at home?", "Bring it in."),  # same input as test
                  _chat("how do i true a buckled rear wheel at home??", "Bring it in."),  # near-identical
                  _chat("Which tyre pressure suits gravel riding?", "About 35 psi."),  # already in train
                  _chat("Can I fit mudguards to a carbon frame?", "Yes, with clip-on ones.")]
    kept, dropped = split_overlaps(candidates, train, test, threshold=0.8)
    assert [r["id"] for r in kept] == ["Can I fit mudguards to a carbon frame?"]
    assert dropped == {"held_out_overlap": 2, "already_in_train": 1}


def test_when_conditions():
    clauses = parse_condition("feedback>=50 and days > 6.5")
    assert clauses == [("feedback", ">=", 50.0), ("days", ">", 6.5)]
    assert condition_met(clauses, {"feedback": 50, "days": 7})[0]
    met, why = condition_met(clauses, {"feedback": 12, "days": 7})
    assert not met and why == "feedback is 12 (needs >= 50)"
    for bad in ("feedback=>5", "likes>=3", ""):
        with pytest.raises(TunesmithError, match="cannot read the condition"):
            parse_condition(bad)


def _hold_lock(root, ready, release):
    with improve_lock(root):
        ready.set()
        release.wait(30)


def test_the_lock_stops_a_second_improve_and_is_freed_when_the_holder_dies(tmp_path):
    context = multiprocessing.get_context("spawn")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_lock, args=(tmp_path, ready, release))
    holder.start()
    assert ready.wait(60)
    with pytest.raises(ImproveLocked, match=f"pid {holder.pid}"), improve_lock(tmp_path):
        pass
    holder.kill()  # no clean exit: the OS releases the lock with the process
    holder.join()
    with improve_lock(tmp_path):
        pass
