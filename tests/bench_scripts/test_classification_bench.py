"""bench/classification_time_to_accuracy.py: its options, the abstention threshold and the report, from synthetic
numbers (the bench itself reads CLINC150 and needs minutes to hours)."""

import classification_time_to_accuracy as bench  # bench/ is on sys.path (conftest.py)
import numpy as np


def test_quick_is_a_subset_and_one_hf_epoch():
    quick, full = bench.parse_args(["--quick"]), bench.parse_args([])
    assert (quick.intents, quick.epochs) == (30, 1.0) and (full.intents, full.epochs) == (None, 3.0)
    assert full.lrs == [2e-5, 5e-5, 1e-4] and full.batches == [16, 32]
    assert bench.parse_args(["--quick", "--epochs", "2"]).epochs == 2.0


def test_the_threshold_separates_confident_in_scope_from_unsure_out_of_scope():
    confidence_in = np.array([0.9, 0.8, 0.95, 0.3])
    correct_in = np.array([True, True, True, False])
    confidence_oos = np.array([0.2, 0.4, 0.5])
    threshold = bench.best_threshold(confidence_in, correct_in, confidence_oos)
    assert 0.5 < threshold <= 0.8  # every out-of-scope query abstained on, every right answer kept


def test_scores_fit_on_validation_and_report_on_test():
    rng = np.random.default_rng(0)
    sure = np.eye(3)[rng.integers(0, 3, 60)] * 8
    targets = {"val": sure.argmax(1), "test": sure.argmax(1)}
    unsure = rng.normal(0, 0.1, (20, 3))
    logits = {"val": sure, "test": sure, "oos_val": unsure, "oos_test": unsure[::-1]}
    result = bench.scores(logits, targets)
    assert result["test_accuracy"] == 1.0 and result["oos_recall"] == 1.0
    assert result["test_accuracy_abstaining"] == 1.0


def test_the_report_names_the_best_sweep_run_and_the_time_ratio():
    common = {"test_accuracy_abstaining": 0.8, "abstain_below": 0.5, "oos_recall": 0.4, "epochs": 1.0, "steps": 10}
    rows = [{"recipe": "tunesmith defaults", "learning_rate": 1e-4, "batch_size": 32, "wall_s": 50.0,
             "test_accuracy": 0.95, "stopped_early": False, "eval_every": 5, "validation_subset": 512,
             "range_test_s": 3.0, **common},
            {"recipe": "HF Trainer", "learning_rate": 5e-5, "batch_size": 16, "wall_s": 100.0, "test_accuracy": 0.94,
             **common},
            {"recipe": "HF Trainer", "learning_rate": 2e-5, "batch_size": 32, "wall_s": 80.0, "test_accuracy": 0.90,
             **common}]
    args = bench.parse_args(["--quick"])
    context = {"argv": ["--quick"], "date": "d", "intents": 30, "machine": "m", "load_before": "1", "load_after": "2",
               "sizes": {"train": 3000, "val": 600, "test": 900, "oos_val": 100, "oos_test": 1000}, "notes": ["n"]}
    text = bench.render(rows, args, context)
    assert "Best HF run: lr 5e-05, batch 16: 94.00 %" in text and "**0.50×**" in text and "+1.00 points" in text
    assert text.count("| HF Trainer |") == 2 and "Note: n" in text


def test_only_keeps_the_other_contenders_rows_of_the_same_data(tmp_path):
    import json

    out = tmp_path / "result.md"
    sizes = {"train": 10, "val": 2}
    rows = [{"recipe": "tunesmith defaults", "wall_s": 5.0},
            {"recipe": "HF Trainer", "wall_s": 9.0, "learning_rate": 2e-5, "batch_size": 16}]
    out.with_suffix(".json").write_text(json.dumps(
        {"rows": rows, "context": {"sizes": sizes, "date": "d", "load_before": "1", "load_after": "1"}}))
    for only, kept in (("tunesmith", ["HF Trainer"]), ("hf", ["tunesmith defaults"]), ("all", [])):
        context = {"sizes": sizes, "notes": []}
        got = bench.kept_rows(bench.parse_args(["--only", only, "--out", str(out)]), context)
        assert [r["recipe"] for r in got] == kept
        assert bool(context["notes"]) == (only != "all")
    rows.append({"recipe": "HF Trainer", "wall_s": 7.0, "learning_rate": 5e-5, "batch_size": 32})
    rows[1].update(learning_rate=1e-4, batch_size=16)
    out.with_suffix(".json").write_text(json.dumps(
        {"rows": rows, "context": {"sizes": sizes, "date": "d", "load_before": "1", "load_after": "1"}}))
    args = bench.parse_args(["--only", "hf", "--lrs", "1e-4", "--batches", "16", "--out", str(out)])
    assert [r["wall_s"] for r in bench.kept_rows(args, {"sizes": sizes, "notes": []})] == [5.0, 7.0]  # 1e-4/16 redone
    other = {"sizes": {"train": 11, "val": 2}, "notes": []}  # other data: nothing kept, and the report says so
    assert bench.kept_rows(bench.parse_args(["--only", "hf", "--out", str(out)]), other) == []
    assert "held no run of this data" in other["notes"][0]
