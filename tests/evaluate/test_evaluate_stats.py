"""Intervals and paired tests: seeded, never zero width on a finite sample, methods named where shown."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rich.console import Console
from scipy import stats as scipy_stats

from tunesmith.config import parse_config
from tunesmith.evaluate.card import card_section
from tunesmith.evaluate.contenders import ContenderResult
from tunesmith.evaluate.items import ChatItem
from tunesmith.evaluate.stats import (
    ALL_EQUAL,
    MCNEMAR,
    NEWCOMBE,
    NOT_ESTIMABLE,
    SIGN_FLIP_EXACT,
    WILSON,
    bootstrap_method,
    mean_interval,
    paired_test,
    permutation_p_value,
    proportion_difference,
    sign_flip_method,
)
from tunesmith.evaluate.summary import build_rows, method_notes


def test_continuous_metric_gets_scipys_bca_interval_on_the_same_seed():
    values = np.random.default_rng(1).random(200)
    ours = mean_interval(values, 500, seed=3)
    ref = scipy_stats.bootstrap((values,), np.mean, n_resamples=500, method="BCa",
                                rng=np.random.default_rng(3)).confidence_interval
    assert (ours.low, ours.high) == pytest.approx((ref.low, ref.high), rel=1e-12)
    assert ours.method == bootstrap_method(500) == "BCa bootstrap (500 resamples)"
    assert ours == mean_interval(values, 500, seed=3)  # seeded: same numbers every time
    assert ours.low < ours.mean < ours.high and ours.mean == pytest.approx(values.mean())
    se = values.std(ddof=1) / np.sqrt(values.size)
    assert ours.high - ours.low == pytest.approx(2 * 1.96 * se, rel=0.2)


def test_not_applicable_items_are_left_out():
    estimate = mean_interval([1.0, float("nan"), 0.0], 200)
    assert estimate.n == 2 and estimate.mean == 0.5


def test_all_correct_on_a_finite_sample_is_not_certainty():
    estimate = mean_interval([1.0] * 31)
    assert estimate.method == WILSON
    assert estimate.mean == 1.0 and estimate.high == 1.0
    assert estimate.low == pytest.approx(31 / (31 + 1.959964**2))  # Wilson at k = n: n / (n + z²) ≈ 0.890
    assert estimate.low == pytest.approx(0.8897, abs=1e-4)


def test_none_correct_still_has_an_upper_bound():
    estimate = mean_interval([0.0] * 31)
    assert (estimate.mean, estimate.low) == (0.0, 0.0)
    assert estimate.high == pytest.approx(1.959964**2 / (31 + 1.959964**2))  # ≈ 0.110


def test_identical_values_of_a_bounded_metric_get_a_clopper_pearson_bound():
    n = 20
    share = 1 - 0.025 ** (1 / n)  # Clopper–Pearson upper limit for 0 differing items out of n
    estimate = mean_interval([0.25] * n, bounds=(0.0, 1.0))
    assert estimate.method == ALL_EQUAL
    assert (estimate.low, estimate.high) == pytest.approx((0.25 - share * 0.25, 0.25 + share * 0.75))
    unbounded = mean_interval([2.5] * n)  # e.g. a log-prob margin: the range says nothing
    assert unbounded.method == NOT_ESTIMABLE and math.isnan(unbounded.low) and unbounded.mean == 2.5


def test_newcombe_interval_matches_the_published_example():
    # Cavo et al. (2012) in Fagerland, Lydersen & Laake, "Statistical Analysis of Contingency Tables",
    # ch. 8: table [[59, 6], [16, 80]], Newcombe square-and-add -0.0621 (95% CI -0.1186 to -0.0046).
    a = np.array([1] * 59 + [1] * 6 + [0] * 16 + [0] * 80)
    b = np.array([1] * 59 + [0] * 6 + [1] * 16 + [0] * 80)
    estimate = proportion_difference(a, b)
    assert estimate.method == NEWCOMBE
    assert (estimate.mean, estimate.low, estimate.high) == pytest.approx((-0.0621, -0.1186, -0.0046), abs=5e-5)
    test = paired_test("accuracy", "a", a, "b", b)
    assert test.p_method == MCNEMAR and test.resamples is None
    assert test.p_value == pytest.approx(scipy_stats.binomtest(6, 22, 0.5).pvalue)


@pytest.mark.parametrize("outcomes", [[1.0] * 31, [0.0] * 31, [1.0] * 15 + [0.0] * 15])
def test_identical_paired_outcomes_have_width_and_p_one(outcomes):
    test = paired_test("accuracy", "run", outcomes, "base", list(outcomes))
    assert test.difference.method == NEWCOMBE and test.difference.mean == 0
    assert test.difference.low < 0 < test.difference.high  # even where φ = 1 would collapse it
    assert test.p_value == 1.0 and test.p_text == "p = 1.000"
    assert not test.significant


def test_identical_paired_scores_of_a_continuous_metric_have_width_and_p_one():
    scores = list(np.random.default_rng(2).random(25))
    test = paired_test("token_f1", "run", scores, "base", scores, bounds=(0.0, 1.0))
    assert test.difference.method == ALL_EQUAL
    assert test.difference.low < 0 < test.difference.high
    assert test.p_value == 1.0 and not test.significant


def test_a_consistent_improvement_shows_the_permutation_floor():
    rng = np.random.default_rng(0)
    base = rng.random(60)
    better = np.clip(base + 0.2 + rng.normal(0, 0.05, 60), 0, 1.5)
    test = paired_test("m", "run", better, "base", base, samples=1000)
    assert test.significant and test.difference.low > 0
    assert test.p_method == sign_flip_method(1000)
    assert test.p_value == 1 / 1001 and test.p_at_floor
    assert test.p_text == "p ≤ 0.000999 (1/1001)"
    assert test.to_dict()["p_text"] == test.p_text


def test_exact_tests_print_their_exact_p():
    test = paired_test("accuracy", "run", [1.0] * 12, "base", [0.0] * 12)
    assert test.p_method == MCNEMAR and not test.p_at_floor
    assert test.p_value == pytest.approx(2 * 0.5**12)
    assert test.p_text == "p = 4.9e-04"
    small = paired_test("m", "run", [0.3, 0.5, 0.9], "base", [0.1, 0.2, 0.4], samples=1000)
    assert small.p_method == SIGN_FLIP_EXACT and small.p_value == 0.25  # 2 of 8 sign patterns, no floor


def test_noise_is_not_significant():
    rng = np.random.default_rng(0)
    a, b = rng.random(30), rng.random(30)
    test = paired_test("m", "run", a, "base", b, samples=1000)
    assert not test.significant
    assert test.difference.low < 0 < test.difference.high
    assert test.p_value > 0.05


def test_permutation_p_value_of_identical_contenders_is_one():
    assert permutation_p_value(np.zeros(10)) == 1.0


def _results() -> list[ContenderResult]:
    n = 31
    return [ContenderResult("base", "baseline", [""] * n,
                            {"fact_accuracy": [0.0] * 20 + [1.0] * 11, "token_f1": list(np.linspace(0, 0.6, n))}),
            ContenderResult("run-1", "run", [""] * n,
                            {"fact_accuracy": [1.0] * n, "token_f1": list(np.linspace(0.3, 1, n))})]


def test_one_method_per_column_and_the_footnote_names_it():
    results = _results()
    results[0].per_item["fact_accuracy"][0] = 0.5  # a share of two facts: the column is no longer 0/1
    rows = build_rows(results, 200, 0)
    assert {r.metrics["fact_accuracy"].method for r in rows} == {bootstrap_method(200), ALL_EQUAL}
    assert method_notes(rows, [], ["token_f1"]) == ["95% intervals: BCa bootstrap (200 resamples) for token_f1."]
    assert method_notes(rows, [], ["fact_accuracy"]) == [
        "95% intervals: BCa bootstrap (200 resamples) for fact_accuracy (base); "
        "Clopper–Pearson bound (all values equal) for fact_accuracy (run-1)."]


def test_cli_card_report_and_verdict_show_honest_intervals_and_their_methods(tmp_path):
    from tunesmith.evaluate import summarize
    from tunesmith.evaluate.report import write_reports

    settings = parse_config({"evaluation": {"bootstrap_samples": 200}}).evaluation
    items = [ChatItem(f"q{i}", [{"role": "user", "content": f"question {i}"}], "answer") for i in range(31)]
    comparison = summarize(_results(), items, "chat", settings)
    assert comparison.primary == "fact_accuracy"
    run = comparison.row("run-1").metrics["fact_accuracy"]
    assert run.method == WILSON and run.low == pytest.approx(0.8897, abs=1e-4)
    test = next(t for t in comparison.tests if t.metric == "fact_accuracy")
    assert test.p_text in comparison.verdict and "p = " in test.p_text  # exact McNemar: an exact p

    console = Console(record=True, width=200)
    comparison.print(console)
    text = console.export_text()
    assert "1.00 [0.89–1.00]" in text and "[1.00–1.00]" not in text
    assert "95% intervals: Wilson score for fact_accuracy; BCa bootstrap (200 resamples) for token_f1." in text
    assert "Differences: Newcombe hybrid score for fact_accuracy." in text
    assert "p-values: exact McNemar for fact_accuracy." in text

    card = card_section(comparison)
    assert "1.000 [0.890, 1.000]" in card and "Wilson score for fact_accuracy" in card
    assert "bootstrap CI]" not in card

    write_reports(comparison, tmp_path, settings)
    html = comparison.report_html.read_text()
    assert "Wilson score for fact_accuracy" in html and "Newcombe hybrid score for fact_accuracy" in html
    assert "sign-flip permutation (200 resamples) for token_f1" in html
    token_test = next(t for t in comparison.tests if t.metric == "token_f1")
    assert token_test.p_at_floor and "p ≤ 0.00498 (1/201)" in html


def test_percentile_bootstrap_stands_in_where_bca_is_undefined(monkeypatch):
    real = scipy_stats.bootstrap

    def bca_undefined(*args, method="BCa", **kwargs):  # what scipy returns when BCa's z0 or a is not finite
        result = real(*args, method=method, **kwargs)
        if method == "BCa":
            return type("Result", (), {"confidence_interval": type(result.confidence_interval)(np.nan, np.nan)})
        return result

    monkeypatch.setattr(scipy_stats, "bootstrap", bca_undefined)
    values = np.random.default_rng(4).random(40)
    estimate = mean_interval(values, 300, seed=5)
    ref = real((values,), np.mean, n_resamples=300, method="percentile", rng=np.random.default_rng(5))
    assert estimate.method == bootstrap_method(300, bca=False) == "percentile bootstrap, BCa undefined (300 resamples)"
    assert (estimate.low, estimate.high) == pytest.approx(tuple(ref.confidence_interval))
