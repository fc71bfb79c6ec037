"""bench/gpu_check.sh / gpu_check.py: argument handling, the no-GPU exit, the CPU-smoke plan and the report,
without training (the end-to-end run is `bench/gpu_check.sh --cpu-smoke`, minutes on a CPU)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import gpu_check  # bench/ is on sys.path (conftest.py)
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_and_bad_train_size(capsys):
    args = gpu_check.parse_args([])
    assert not args.cpu_smoke and args.out == gpu_check.RESULTS and args.train is None
    with pytest.raises(SystemExit) as exc:
        gpu_check.parse_args(["--train", "15"])
    assert exc.value.code == 2
    assert "--train must be at least 16" in capsys.readouterr().err


def test_no_gpu_exits_with_its_own_code_and_writes_nothing(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(gpu_check, "cuda_device", lambda: None)
    out = tmp_path / "gpu.md"
    assert gpu_check.main(["--out", str(out)]) == gpu_check.NO_GPU == 3
    assert not out.exists()
    assert "no CUDA GPU" in capsys.readouterr().err


def test_shell_wrapper_reports_no_gpu(tmp_path):
    out = tmp_path / "gpu.md"
    env = {**os.environ, "PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), "--out", str(out)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "no CUDA GPU" in proc.stderr and not out.exists()


@pytest.mark.parametrize("train", [16, 17, 160, 390])
def test_plans_kill_after_a_checkpoint_and_before_the_end(train):
    for gpu in ("NVIDIA H100", None):
        plan = gpu_check.make_plan(gpu_check.parse_args(["--train", str(train)]), gpu)
        assert plan.eval_every < plan.kill_at <= plan.steps  # a checkpoint to resume from, steps left to redo


def test_gpu_plan_is_bf16_lora_and_qlora_and_smoke_plan_is_float32_lora():
    gpu = gpu_check.make_plan(gpu_check.parse_args([]), "NVIDIA H100")
    assert (gpu.device, gpu.dtype, gpu.methods) == ("cuda", "bfloat16", ["lora", "qlora"])
    assert gpu_check._config(gpu, "qlora").model.dtype == "bfloat16"
    smoke = gpu_check.make_plan(gpu_check.parse_args(["--cpu-smoke", "--model", "/m"]), None)
    assert (smoke.device, smoke.dtype, smoke.methods, smoke.model) == ("cpu", "float32", ["lora"], "/m")


def test_cpu_smoke_writes_the_report_and_fails_on_a_failed_check(monkeypatch, tmp_path):
    monkeypatch.setattr(gpu_check, "cuda_device", lambda: None)

    def fake_checks(args, plan, work):
        plan.checks += [gpu_check.Check("lora: loss falls", True, "2.0 → 1.5"),
                        gpu_check.Check("lora: resume is bit-exact", False, "1 of 4 | tensors differ"),
                        gpu_check.Check("vLLM recipe", None, "vllm is not importable here: skipped")]

    monkeypatch.setattr(gpu_check, "run_checks", fake_checks)
    out = tmp_path / "gpu.md"
    assert gpu_check.main(["--cpu-smoke", "--out", str(out)]) == gpu_check.FAILED
    text = out.read_text()
    assert "--cpu-smoke" in text and "no CUDA GPU" in text
    assert "| lora: resume is bit-exact | **FAIL** | 1 of 4 / tensors differ |" in text
    assert "| vLLM recipe | skipped |" in text


def test_vllm_check_is_skipped_when_vllm_is_not_importable(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    plan = gpu_check.make_plan(gpu_check.parse_args([]), "NVIDIA H100")
    check = gpu_check.check_vllm(plan, tmp_path / "run", tmp_path)
    assert check.passed is None and "not importable" in check.detail


def test_a_server_that_dies_fails_the_check_with_its_log():
    cmd = [sys.executable, "-c", "print('cannot load model'); raise SystemExit(2)"]
    check = gpu_check._serve_and_ask(cmd, "bot", gpu_check._free_port(), 60, "tunesmith serve (cuda)", True)
    assert check.passed is False
    assert "server exit code 2" in check.detail and "cannot load model" in check.detail


def test_gpu_use_comes_from_nvidia_smi_pids(monkeypatch):
    monkeypatch.setattr(gpu_check, "_gpu_pids", lambda: {1234})
    assert gpu_check.on_gpu(1234) is True and gpu_check.on_gpu(999_999) is False
    monkeypatch.setattr(gpu_check, "_gpu_pids", lambda: None)
    assert gpu_check.on_gpu(1234) is None


def test_loss_check_judges_the_held_out_loss():
    assert gpu_check.loss_check("lora", [3.0, 3.5, 2.9, 3.4], [2.5, 2.4, 2.2], 1.0).passed is True
    rising = gpu_check.loss_check("lora", [3.0, 2.0, 1.5, 1.0], [2.5, 2.6], 1.0)  # train falls, held-out rises
    assert rising.passed is False and "2.5000 → 2.6000" in rising.detail
    assert gpu_check.loss_check("lora", [3.0, 2.0], [2.5], 1.0).passed is False  # one validation proves nothing


def test_a_method_that_cannot_train_is_a_failed_check_not_a_crash(monkeypatch, tmp_path):
    def train(plan, method, work):
        if method == "qlora":
            raise RuntimeError("bitsandbytes is not installed")
        return [gpu_check.Check(f"{method}: loss falls", True, "ok")]

    monkeypatch.setattr(gpu_check, "check_training", train)
    monkeypatch.setattr(gpu_check, "check_serve", lambda plan, run: gpu_check.Check("serve", True, str(run.name)))
    plan = gpu_check.make_plan(gpu_check.parse_args([]), "NVIDIA H100")
    gpu_check.run_checks(gpu_check.parse_args(["--skip-vllm"]), plan, tmp_path)
    assert [(c.name, c.passed) for c in plan.checks] == [
        ("lora: loss falls", True), ("qlora: training", False), ("serve", True)]
    assert "bitsandbytes is not installed" in plan.checks[1].detail and plan.checks[2].detail == "lora-straight"
