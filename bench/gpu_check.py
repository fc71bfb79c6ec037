"""GPU check (issue 16, item 6): on one CUDA GPU, train LoRA and QLoRA on SmolLM2 in bf16, check that the
loss falls and that a killed run resumes bit-exactly, serve a run and ask one chat completion, try the
vLLM recipe of docs/deploy.md when vLLM is importable, and write bench/results/gpu.md.

    bench/gpu_check.sh                      # on a CUDA machine (under 10 minutes on one GPU)
    bench/gpu_check.sh --cpu-smoke --model DIR --out /tmp/gpu.md   # the same checks, tiny, on the CPU

Without a CUDA GPU (and without --cpu-smoke) it writes nothing, says so on one line and exits with
NO_GPU (3), so a caller can tell "no GPU here" from "a check failed" (FAILED, 1).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

OK, FAILED, NO_GPU = 0, 1, 3
RESULTS = Path(__file__).parent / "results" / "gpu.md"
MODEL = "smollm2-135m-instruct"


@dataclass
class Check:
    name: str
    passed: bool | None  # None: skipped
    detail: str
    seconds: float = 0.0


@dataclass
class Plan:
    device: str  # "cuda" or "cpu"
    model: str
    dtype: str
    methods: list[str]
    train: int
    batch_size: int
    epochs: int = 2
    checks: list[Check] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return -(-self.train // self.batch_size) * self.epochs

    @property
    def eval_every(self) -> int:  # also the checkpoint cadence: four checkpoints per run
        return max(1, self.steps // 4)

    @property
    def kill_at(self) -> int:  # after the third checkpoint, so resume restarts mid-run from a checkpoint
        return 3 * self.eval_every + 1
    checks: list[Check] = field(default_factory=list)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="no GPU: run the same checks tiny, on the CPU "
                        "(float32, LoRA only, no vLLM)")
    parser.add_argument("--model", default=None, help=f"catalog name or HF folder (default {MODEL})")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the markdown report goes")
    parser.add_argument("--train", type=int, default=None, help="training chats (default 160 on a GPU, 16 smoke)")
    parser.add_argument("--skip-serve", action="store_true")
    parser.add_argument("--skip-vllm", action="store_true")
    parser.add_argument("--child", nargs=4, metavar=("PLAN_JSON", "METHOD", "RUN_DIR", "KILL_AT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.train is not None and args.train < 16:
        parser.error("--train must be at least 16 (two batches of 8 per epoch: the resume check needs "
                     "checkpoints before the kill)")
    return args


def cuda_device() -> str | None:
    """The GPU's name, or None where torch sees no CUDA device."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def make_plan(args: argparse.Namespace, gpu: str | None) -> Plan:
    if gpu:
        return Plan("cuda", args.model or MODEL, "bfloat16", ["lora", "qlora"], args.train or 160, batch_size=8)
    return Plan("cpu", args.model or MODEL, "float32", ["lora"], args.train or 16, batch_size=4)


def _records(plan: Plan) -> tuple[list[dict], list[dict]]:
    from tunesmith.quickstart.dataset import support_examples

    rows = [{"messages": r["messages"]} for r in support_examples()]
    return rows[:plan.train], rows[plan.train:plan.train + max(4, plan.train // 8)]


def _config(plan: Plan, method: str):
    from tunesmith.config import parse_config

    return parse_config({
        "model": {"name": plan.model, "max_length": 256, "dtype": plan.dtype},
        "method": {"name": method, "r": 16, "alpha": 32, "dropout": 0.05},
        # Dropout on: resuming must restore the random state, not only weights and optimizer.
        "training": {"epochs": plan.epochs, "batch_size": plan.batch_size, "learning_rate": 2e-4,
                     "warmup_ratio": 0.0, "eval_every": plan.eval_every, "keep_checkpoints": 2, "seed": 7}})


def _train(plan: Plan, method: str, run_dir: Path, resume: bool = False, kill_at: int = 0) -> list[float]:
    from tunesmith.train import run_training

    losses: list[float] = []

    def record(row: dict) -> None:
        losses.append(float(row["train_loss"]))
        if kill_at and row["step"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    train, val = _records(plan)
    run_training(_config(plan, method), train, val, run_dir, resume=resume, callbacks=[record])
    return losses


def _adapter(run_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run_dir / "adapter" / "adapter_model.safetensors"))


def _validation_losses(run_dir: Path) -> list[float]:
    rows = (json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines())
    return [row["val_loss"] for row in rows if row.get("split") == "validation"]


def loss_check(method: str, train_losses: list[float], validation: list[float], seconds: float) -> Check:
    """Passes when the held-out loss at the last validation is below the first (train losses are per batch and
    too noisy for a few steps; they are reported beside it)."""
    quarter = max(1, len(train_losses) // 4)
    first, last = sum(train_losses[:quarter]) / quarter, sum(train_losses[-quarter:]) / quarter
    falls = len(validation) >= 2 and validation[-1] < validation[0]
    held_out = " → ".join(f"{v:.4f}" for v in validation)
    return Check(f"{method}: loss falls", falls, f"validation loss {held_out or 'never computed'}; mean train "
                 f"loss of the first {quarter} steps {first:.4f} → last {quarter} {last:.4f} "
                 f"({len(train_losses)} steps)", seconds)


def _plan_json(plan: Plan) -> str:
    return json.dumps({k: v for k, v in plan.__dict__.items() if k != "checks"})


def check_training(plan: Plan, method: str, work: Path) -> list[Check]:
    import torch

    started = time.perf_counter()
    straight = work / f"{method}-straight"
    losses = _train(plan, method, straight)
    checks = [loss_check(method, losses, _validation_losses(straight), time.perf_counter() - started)]
    started = time.perf_counter()
    crashed = work / f"{method}-crashed"
    child = subprocess.run([sys.executable, __file__, "--child", _plan_json(plan),
                            method, str(crashed), str(plan.kill_at)], capture_output=True, text=True)
    if child.returncode != -signal.SIGKILL:
        checks.append(Check(f"{method}: resume is bit-exact", False, f"the child meant to be killed at step "
                            f"{plan.kill_at} exited {child.returncode}: {child.stderr[-300:]!r}"))
        return checks
    _train(plan, method, crashed, resume=True)
    expected, actual = _adapter(straight), _adapter(crashed)
    differing = [n for n in expected if n not in actual or not torch.equal(expected[n], actual[n])]
    checks.append(Check(f"{method}: resume is bit-exact", not differing and expected.keys() == actual.keys(),
                        f"SIGKILL after step {plan.kill_at}, resumed from the last checkpoint: "
                        + (f"all {len(expected)} adapter tensors equal" if not differing else
                           f"{len(differing)} of {len(expected)} tensors differ, e.g. {differing[0]}"),
                        time.perf_counter() - started))
    return checks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post_chat(port: int, model: str, deadline: float, proc: subprocess.Popen) -> str:
    """Poll until the server answers one chat completion (or `deadline` passes / the server exits)."""
    body = json.dumps({"model": model, "max_tokens": 24,
                       "messages": [{"role": "user", "content": "How do I reset my e-bike's display?"}]}).encode()
    error = "no answer"
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", body,
                                             {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())["choices"][0]["message"]["content"]
        except OSError as exc:  # not listening yet, or an HTTP error
            error = str(exc)
            time.sleep(1)
    raise RuntimeError(f"{error} (server exit code {proc.poll()})")


def _gpu_pids() -> set[int] | None:
    """Processes holding GPU memory per nvidia-smi; None where it cannot tell (no nvidia-smi, or a container
    whose PID namespace hides every process from it)."""
    if not shutil.which("nvidia-smi"):
        return None
    out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid", "--format=csv,noheader"], capture_output=True,
                         text=True).stdout
    return {int(line) for line in out.split() if line.strip().isdigit()} or None


def on_gpu(pid: int) -> bool | None:
    pids = _gpu_pids()
    return None if pids is None else bool(pids & {pid, *_children(pid)})


def _serve_and_ask(cmd: list[str], model: str, port: int, timeout: float, name: str, need_gpu: bool) -> Check:
    """Start a server, ask one chat completion; on a GPU machine the server must also hold GPU memory."""
    import tempfile

    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            answer = _post_chat(port, model, time.monotonic() + timeout, proc)
            gpu = on_gpu(proc.pid) if need_gpu else None
            where = {True: "the server holds GPU memory", False: "the server holds no GPU memory: it ran on the CPU",
                     None: "GPU use not checked" if not need_gpu else "nvidia-smi cannot tell whether it used the GPU"}
            passed = bool(answer.strip()) and gpu is not False
            return Check(name, passed, f"answer {answer[:80]!r}; {where[gpu]}", time.perf_counter() - started)
        except RuntimeError as exc:
            log.seek(0)
            tail = log.read()[-300:].replace("\n", " ")
            return Check(name, False, f"{str(exc)[:200]}; server log ends: {tail}", time.perf_counter() - started)
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def check_serve(plan: Plan, run_dir: Path) -> Check:
    port = _free_port()
    cmd = [sys.executable, "-m", "tunesmith", "serve", f"bot={run_dir}", "--port", str(port),
           "--set", f"serve.dtype={plan.dtype}"]
    return _serve_and_ask(cmd, "bot", port, 300, f"tunesmith serve ({plan.device})", plan.device == "cuda")


def check_vllm(plan: Plan, run_dir: Path, work: Path) -> Check:
    """docs/deploy.md's recipe: export the adapter, `vllm serve BASE --enable-lora --lora-modules bot=EXPORT`."""
    if importlib.util.find_spec("vllm") is None:
        return Check("vLLM recipe", None, "vllm is not importable here: skipped")
    from tunesmith.models.catalog import resolve

    export = work / "bot-adapter"
    exported = subprocess.run([sys.executable, "-m", "tunesmith", "export", str(run_dir), "--format", "adapter",
                               "--out", str(export)], capture_output=True, text=True)
    if exported.returncode:
        return Check("vLLM recipe", False, f"tunesmith export failed: {exported.stderr[-300:]!r}")
    import torch

    torch.cuda.empty_cache()  # this process trained on the GPU; leave vLLM the memory it asks for
    port = _free_port()
    vllm = shutil.which("vllm") or str(Path(sys.executable).parent / "vllm")
    cmd = [vllm, "serve", str(resolve(plan.model).path), "--enable-lora", "--max-lora-rank", "16",
           "--max-loras", "4", "--lora-modules", f"bot={export}", "--port", str(port), "--dtype", plan.dtype,
           "--gpu-memory-utilization", "0.5"]
    return _serve_and_ask(cmd, "bot", port, 300, "vLLM recipe (docs/deploy.md)", need_gpu=False)


def run_checks(args: argparse.Namespace, plan: Plan, work: Path) -> None:
    first_run = None
    for method in plan.methods:
        try:
            plan.checks += check_training(plan, method, work)
        except Exception as exc:  # e.g. bitsandbytes missing for QLoRA: record it, go on with the other checks
            plan.checks.append(Check(f"{method}: training", False, f"{type(exc).__name__}: {str(exc)[:300]}"))
            continue
        first_run = first_run or work / f"{method}-straight"
    if first_run is None:
        return
    if not args.skip_serve:
        plan.checks.append(check_serve(plan, first_run))
    if not args.skip_vllm and plan.device == "cuda":
        plan.checks.append(check_vllm(plan, first_run, work))


def report(plan: Plan, gpu: str | None, seconds: float) -> str:
    mark = {True: "pass", False: "**FAIL**", None: "skipped"}
    lines = ["# GPU check", "",
             f"`bench/gpu_check.sh{' --cpu-smoke' if plan.device == 'cpu' else ''}` on "
             f"{gpu or 'the CPU (smoke run: no CUDA GPU)'}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
             f"{plan.model} in {plan.dtype}, methods {', '.join(plan.methods)}, {plan.train} support chats × "
             f"{plan.epochs} epochs, {seconds:.0f} s in all.", "",
             "| check | result | detail | seconds |", "|---|---|---|---|"]
    lines += [f"| {c.name} | {mark[c.passed]} | {c.detail.replace('|', '/')} | {c.seconds:.0f} |" for c in plan.checks]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        plan_json, method, run_dir, kill_at = args.child
        _train(Plan(**json.loads(plan_json)), method, Path(run_dir), kill_at=int(kill_at))
        return FAILED  # reached only if the kill did not happen
    gpu = cuda_device()
    if gpu is None and not args.cpu_smoke:
        print("gpu_check: no CUDA GPU visible to torch; nothing run, nothing written "
              "(use --cpu-smoke for the tiny CPU run)", file=sys.stderr)
        return NO_GPU
    plan = make_plan(args, gpu)
    started = time.perf_counter()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        run_checks(args, plan, Path(tmp))
    text = report(plan, gpu, time.perf_counter() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return OK if all(c.passed is not False for c in plan.checks) else FAILED


if __name__ == "__main__":
    sys.exit(main())
