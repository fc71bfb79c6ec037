"""bench/planner_accuracy.py measures one real step per case and reports it against the planner; this runs
its case and report code on one tiny step (the bench's numbers need a quiet machine), so the script cannot
rot unnoticed as it once did (it built method options with a type that had become a union)."""

import planner_accuracy as bench  # bench/ is on sys.path (conftest.py)

from tunesmith.models.tiny import save_tiny
from tunesmith.plan.calibrate import Calibration
from tunesmith.plan.speed import Rates


def test_a_case_is_measured_and_reported_with_its_method_baseline(tmp_path):
    model_dir = save_tiny("causal-lm", tmp_path / "tiny", hidden=32, layers=2)
    rates = Rates(matmul_flops=1e11, logit_seconds=9e-9, head_seconds=4e-11, elementwise_seconds=8e-10,
                  optimizer_seconds=4e-9, block_seconds=2.5e-3, correction=1.0)
    calibration = Calibration(rates, process_baseline=4e8, machine={}, peft_baseline=1e8)
    rows = [bench.case("tiny", str(model_dir), method, 2, 16, "chat", False, calibration)
            for method in (bench.LORA, {"name": "full"})]
    assert rows[0]["mem_meas"] > 0 and rows[0]["time_meas"] > 0
    # the same step, but only the LoRA process pays for PEFT: its prediction carries the extra 0.1 GB
    lora_minus_full = rows[0]["mem_pred"] - rows[1]["mem_pred"]
    assert lora_minus_full > 0.5e8
    report = bench.markdown(rows, calibration, "now")
    assert "| tiny | chat | lora | 2×16 |" in report and "(+100 MB for a method built on PEFT)" in report
