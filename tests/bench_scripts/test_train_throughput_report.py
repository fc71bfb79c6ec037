"""bench/train_throughput.py's report: the TRL column, the tunesmith/TRL ratio and executed-FLOPs MFU, from
synthetic child results (the bench itself needs a quiet machine)."""

import json

import train_throughput as bench  # bench/ is on sys.path (conftest.py)


def _result(recipe, tokens, wall, positions=None, head=None):
    result = {"recipe": recipe, "wall_s": wall, "real_tokens": tokens, "val_loss": 2.2, "padding_share": 0.1,
              "steps": 25, "peak_rss_mb": 1000.0, "cpu_s": 2 * wall, "load": 2.0, "loop_s": wall, "note": "n"}
    if positions is not None:
        result |= {"positions": positions, "head_positions": head}
    return result


def test_report_has_the_trl_column_ratio_and_executed_mfu(tmp_path):
    args = bench.parse_args(["--train", "10", "--out", str(tmp_path / "tt.md")])
    results = [_result("HF Trainer + PEFT (pad to 256)", 1000, 100.0, 2560, 2560),
               _result("TRL SFTTrainer + PEFT (dynamic padding, length-grouped, completion-only)", 1000, 50.0,
                       1100, 1100),
               _result("tunesmith", 1000, 20.0, 1010, 300)]
    bench.write_report(results, 200.0, args)
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in
            (tmp_path / "tt.md").read_text().splitlines() if line.startswith("| ") and "recipe" not in line}
    assert rows["tunesmith"][3] == "2.50×"  # speed vs TRL: (1000/20) / (1000/50)
    assert rows["tunesmith"][2] == "5.00×"  # speed vs the HF reference
    mean_len = 1000 / 10
    for name, wall in (("tunesmith", 20.0), ("HF Trainer + PEFT (pad to 256)", 100.0)):
        result = next(r for r in results if r["recipe"] == name)
        expected = bench.executed_flops(result, mean_len) / wall / 200e9
        assert rows[name][-2] == f"{expected:.1%}"
    # The vocabulary projection only at loss positions: fewer FLOPs executed than credited.
    tunesmith = results[2]
    assert bench.executed_flops(tunesmith, mean_len) < bench.model_flops_per_token(mean_len) * 1000
    assert json.loads((tmp_path / "tt.json").read_text())["results"][1]["recipe"].startswith("TRL")


def test_a_saved_result_without_positions_reports_na(tmp_path):
    args = bench.parse_args(["--train", "10", "--out", str(tmp_path / "tt.md")])
    bench.write_report([_result("HF Trainer + PEFT (pad to 256)", 1000, 100.0), _result("tunesmith", 1000, 20.0)],
                       200.0, args)
    row = next(line for line in (tmp_path / "tt.md").read_text().splitlines() if line.startswith("| tunesmith"))
    assert row.split(" | ")[3] == "n/a" and row.split(" | ")[-2] == "n/a"
