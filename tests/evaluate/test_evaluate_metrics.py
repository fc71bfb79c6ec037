"""Metric functions against hand-computed values and against sacrebleu / rouge-score / scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sacrebleu
from sklearn.metrics import f1_score, precision_recall_fscore_support

from tunesmith.evaluate import metrics
from tunesmith.evaluate.classification import (
    abstention,
    classification_report,
    expected_calibration_error,
    fit_temperature,
    softmax,
)


def test_exact_match_normalises_case_punctuation_and_articles():
    assert metrics.exact_match("The answer is: 45 days!", "answer is 45 days") == 1.0
    assert metrics.exact_match("46 days", "45 days") == 0.0


def test_token_f1_hand_computed():
    # prediction tokens: [returns, within, 45, days]; reference: [45, days, free, label]; overlap 2
    # precision 2/4, recall 2/4 -> F1 0.5
    assert metrics.token_f1("Returns within 45 days", "45 days, free label") == pytest.approx(0.5)
    # overlap counts repeated tokens at most as often as they occur in both
    assert metrics.token_f1("days days days", "days") == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))
    assert metrics.token_f1("", "") == 1.0
    assert metrics.token_f1("something", "") == 0.0


def test_rouge_l_hand_computed():
    # LCS of "a b c d" and "a c d e" is "a c d" (3): P = R = 3/4 -> F = 0.75
    assert metrics.rouge_l("a b c d", "a c d e") == pytest.approx(0.75)
    assert metrics.rouge_l("completely different", "nothing shared") == 0.0


def test_fact_accuracy_is_case_and_whitespace_insensitive():
    answer = "Refunds take 5  business\ndays from our UTRECHT warehouse."
    assert metrics.fact_accuracy(answer, ["5 business days", "Utrecht"]) == 1.0
    assert metrics.fact_accuracy(answer, ["5 business days", "Amsterdam"]) == 0.5
    assert metrics.fact_accuracy(answer, []) is None


def test_per_item_scores_leave_items_without_facts_out():
    scores = metrics.per_item_scores(["45 days", "no"], ["45 days", "yes"], [["45 days"], []])
    assert scores["fact_accuracy"][0] == 1.0 and math.isnan(scores["fact_accuracy"][1])
    assert scores["exact_match"] == [1.0, 0.0]


def test_corpus_bleu_and_chrf_match_sacrebleu():
    preds = ["the cat sat on the mat", "refunds take five business days", "hello there"]
    refs = ["the cat is on the mat", "refunds take 5 business days", "hi there"]
    assert metrics.corpus_bleu(preds, refs) == pytest.approx(sacrebleu.corpus_bleu(preds, [refs]).score)
    assert metrics.corpus_chrf(preds, refs) == pytest.approx(sacrebleu.corpus_chrf(preds, [refs]).score)
    assert metrics.corpus_bleu(refs, refs) == pytest.approx(100.0)


def test_classification_report_matches_scikit_learn():
    refs = ["a", "a", "b", "b", "c", "c", "c"]
    preds = ["a", "b", "b", "b", "c", "a", "c"]
    report = classification_report(refs, preds)
    assert report["summary"]["accuracy"] == pytest.approx(5 / 7)
    assert report["summary"]["f1_macro"] == pytest.approx(f1_score(refs, preds, average="macro"))
    assert report["summary"]["f1_weighted"] == pytest.approx(f1_score(refs, preds, average="weighted"))
    p, r, _, s = precision_recall_fscore_support(refs, preds, labels=["a", "b", "c"])
    assert report["per_class"]["b"]["precision"] == pytest.approx(p[1]) == pytest.approx(2 / 3)
    assert report["per_class"]["c"]["recall"] == pytest.approx(r[2]) == pytest.approx(2 / 3)
    assert report["per_class"]["c"]["support"] == s[2] == 3
    # rows are true labels, columns predictions
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]


def test_expected_calibration_error_hand_computed():
    # two items at confidence 0.9 (one right), two at 0.6 (both right):
    # bin (0.8,0.9]: |0.5 - 0.9| * 2/4 = 0.2 ; bin (0.5,0.6]: |1.0 - 0.6| * 2/4 = 0.2 -> 0.4
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    assert expected_calibration_error(probs, [0, 1, 0, 0]) == pytest.approx(0.4)


def test_temperature_scaling_softens_an_overconfident_model():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 3, size=300)
    logits = rng.normal(size=(300, 3))
    logits[np.arange(300), targets] += 1.0  # right ~65% of the time ...
    logits *= 8  # ... but nearly certain every time
    temperature = fit_temperature(logits, targets)
    assert temperature > 3
    assert expected_calibration_error(softmax(logits, temperature), targets) < \
        expected_calibration_error(softmax(logits), targets) / 2


def test_abstention_trades_coverage_for_accuracy():
    probs = np.array([[0.95, 0.05], [0.55, 0.45], [0.9, 0.1], [0.52, 0.48]])
    result = abstention(probs, [0, 1, 0, 1], threshold=0.8)
    assert result == {"threshold": 0.8, "coverage": 0.5, "accuracy_answered": 1.0, "abstained": 2}


def test_top_confusions_lists_off_diagonal_cells_most_frequent_first():
    from tunesmith.evaluate.diagnostics import top_confusions

    details = {"labels": ["a", "b", "c"], "confusion_matrix": [[5, 2, 0], [0, 4, 3], [1, 0, 6]]}
    assert top_confusions(details, 2) == [{"true": "b", "predicted": "c", "count": 3},
                                          {"true": "a", "predicted": "b", "count": 2}]
