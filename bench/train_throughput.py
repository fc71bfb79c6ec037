"""Training throughput: tunesmith's loop vs the Hugging Face tutorial recipe (Trainer + PEFT).

Same model (smollm2-135m-instruct, fp32), same data (support chats from the quickstart example
dataset), LoRA r=16 / alpha=32 on all linear layers, batch 8, same epochs, learning rate and
schedule. The reference pads every example to 256 tokens, as the tutorial does. Both put loss on
assistant tokens only, so the final validation losses measure the same thing (computed by the same
function on each trained model). Each recipe runs in its own child process (peak RSS is per
process), back to back. Usage:

    .venv/bin/python bench/train_throughput.py [--train 200] [--validation 40] [--epochs 1]

Writes bench/results/train_throughput.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "train_throughput.md"
MODEL = "smollm2-135m-instruct"
LORA = {"r": 16, "alpha": 32, "dropout": 0.05}
TRAINING = {"batch_size": 8, "learning_rate": 2e-4, "warmup_ratio": 0.05, "scheduler": "cosine", "seed": 42}


def _data(n_train: int, n_val: int):
    from tunesmith.quickstart.dataset import support_examples

    records = [{"messages": r["messages"]} for r in support_examples()]
    return records[:n_train], records[n_train:n_train + n_val]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _config(epochs: float, compile_model: bool = False):
    from tunesmith.config import parse_config

    return parse_config({"model": {"name": MODEL, "max_length": 256}, "method": {"name": "lora", **LORA},
                         "training": {**TRAINING, "epochs": epochs, "eval_every": 10_000,
                                      "compile": compile_model}})


def run_tunesmith(args) -> dict:
    from tunesmith.train import run_training

    train, val = _data(args.train, args.validation)
    with tempfile.TemporaryDirectory() as tmp:
        started, cpu = time.perf_counter(), _cpu_seconds()
        result = run_training(_config(args.epochs, args.compile), train, val, Path(tmp) / "run")
        wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    m = result.metrics
    return {"recipe": "tunesmith" + (" + compile" if args.compile else ""), "wall_s": wall,
            "real_tokens": m["tokens"], "val_loss": m["val_loss"], "padding_share": m["padding_share"],
            "steps": m["steps"], "peak_rss_mb": _peak_rss_mb(), "cpu_s": cpu, "load": os.getloadavg()[0],
            "loop_s": m["seconds"], "note": "wall includes model load, validation, save"}


def run_reference(args) -> dict:
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import Trainer, TrainingArguments

    from tunesmith.models.loading import load_causal_lm, load_tokenizer
    from tunesmith.train.distributed import World
    from tunesmith.train.encode import IGNORE, encode_records
    from tunesmith.train.loop import evaluate

    train, val = _data(args.train, args.validation)
    tokenizer = load_tokenizer(MODEL)
    model = load_causal_lm(MODEL)
    model = get_peft_model(model, LoraConfig(task_type=TaskType.CAUSAL_LM, r=LORA["r"], lora_alpha=LORA["alpha"],
                                             lora_dropout=LORA["dropout"], target_modules="all-linear"))
    rows = []
    real = 0
    for ex in encode_records(tokenizer, train, "chat", 256):
        pad = 256 - len(ex)
        real += len(ex)
        rows.append({"input_ids": ex.input_ids + [tokenizer.pad_token_id] * pad,
                     "attention_mask": [1] * len(ex) + [0] * pad, "labels": ex.labels + [IGNORE] * pad})
    from datasets import Dataset

    training_args = TrainingArguments(
        output_dir=tempfile.mkdtemp(), per_device_train_batch_size=TRAINING["batch_size"],
        num_train_epochs=args.epochs, learning_rate=TRAINING["learning_rate"],
        warmup_steps=TRAINING["warmup_ratio"], lr_scheduler_type="cosine", seed=TRAINING["seed"],
        logging_steps=5, save_strategy="no", eval_strategy="no", report_to=[], use_cpu=True,
        dataloader_num_workers=0)
    trainer = Trainer(model=model, args=training_args, train_dataset=Dataset.from_list(rows))
    started, cpu = time.perf_counter(), _cpu_seconds()
    trainer.train()
    wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    val_ex = encode_records(tokenizer, val, "chat", 256)
    val_loss = evaluate(trainer.model, val_ex, tokenizer.pad_token_id, "chat", False, 8, World())["val_loss"]
    return {"recipe": "HF Trainer + PEFT (pad to 256)", "wall_s": wall, "real_tokens": real * args.epochs,
            "val_loss": val_loss, "padding_share": 1 - real / (256 * len(rows)),
            "steps": trainer.state.global_step, "peak_rss_mb": _peak_rss_mb(), "cpu_s": cpu, "load": os.getloadavg()[0],
            "loop_s": wall, "note": "wall is trainer.train() only"}


def matmul_peak_gflops(size: int = 2048, repeats: int = 10) -> float:
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def model_flops_per_token(mean_length: float) -> float:
    """LoRA training: forward 2N + input-gradient backward 2N (frozen weights get no weight gradient),
    plus attention scores and mixing (2·2·layers·length·width forward, the same again backward)."""
    from tunesmith.models.catalog import resolve

    config = json.loads((resolve(MODEL).path / "config.json").read_text())
    n_params = 134_515_008
    return 4 * n_params + 8 * config["num_hidden_layers"] * mean_length * config["hidden_size"]


def _child(recipe: str, args) -> dict:
    cmd = [sys.executable, __file__, "--child", recipe, "--train", str(args.train), "--validation",
           str(args.validation), "--epochs", str(args.epochs)] + (["--compile"] if recipe == "compile" else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{recipe} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=200)
    parser.add_argument("--validation", type=int, default=40)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--with-compile", action="store_true", help="also run tunesmith with torch.compile")
    parser.add_argument("--child", choices=["reference", "tunesmith", "compile"])
    parser.add_argument("--peak-gflops", type=float, help="use this fp32 matmul peak instead of measuring "
                        "(measure on an idle machine: a busy one understates it)")
    parser.add_argument("--from-json", nargs="+", type=Path, help="write the report from saved child results "
                        "(reference first)")
    args = parser.parse_args()
    if args.from_json:
        results = [json.loads(p.read_text().strip().splitlines()[-1]) for p in args.from_json]
        write_report(results, args.peak_gflops or matmul_peak_gflops(), args)
        return
    if args.child:
        result = run_reference(args) if args.child == "reference" else run_tunesmith(args)
        print(json.dumps(result))
        return
    results = [_child("reference", args), _child("tunesmith", args)]
    if args.with_compile:
        results.append(_child("compile", args))
    peak = args.peak_gflops or matmul_peak_gflops()
    write_report(results, peak, args)


def write_report(results: list[dict], peak: float, args) -> None:
    ref = results[0]
    lines = [
        "# Training throughput: tunesmith vs Hugging Face Trainer + PEFT",
        "",
        f"`bench/train_throughput.py --train {args.train} --validation {args.validation} --epochs {args.epochs}` "
        f"on {MODEL} (fp32), LoRA r=16 all-linear, batch 8, {args.train} support chats "
        f"(quickstart example data), {args.epochs:g} epoch(s); both recipes in their own process, back to back, "
        f"on this shared 2-core machine ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).",
        "",
        "| recipe | non-padding tokens/s | speed vs ref | tokens per CPU-s | vs ref | training steps only: tokens/s "
        "| vs ref | wall s | peak RSS MB | RSS vs ref | val loss | padding share | MFU | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        speed = r["real_tokens"] / r["wall_s"]
        mean_len = r["real_tokens"] / max(1, args.train * args.epochs)
        mfu = speed * model_flops_per_token(mean_len) / (peak * 1e9)
        per_cpu, ref_per_cpu = r["real_tokens"] / r["cpu_s"], ref["real_tokens"] / ref["cpu_s"]
        loop, ref_loop = r["real_tokens"] / r["loop_s"], ref["real_tokens"] / ref["loop_s"]
        lines.append(f"| {r['recipe']} | {speed:.0f} | {speed / (ref['real_tokens'] / ref['wall_s']):.2f}× | "
                     f"{per_cpu:.0f} | {per_cpu / ref_per_cpu:.2f}× | {loop:.0f} | {loop / ref_loop:.2f}× | "
                     f"{r['wall_s']:.0f} | {r['peak_rss_mb']:.0f} | {r['peak_rss_mb'] / ref['peak_rss_mb']:.2f}× | "
                     f"{r['val_loss']:.4f} | {r['padding_share']:.1%} | {mfu:.1%} | {r['load']:.1f} |")
    lines += [
        "",
        f"fp32 matmul peak (2048², 2 threads): {peak:.0f} GFLOP/s. MFU counts model FLOPs "
        "per real token (4N + attention, N = 134.5 M) against that peak; tunesmith skips the vocabulary "
        "projection for positions without loss, so it performs fewer FLOPs than it is credited with.",
        "Training steps only: tunesmith's own timer around its optimisation steps (no model load, tokenising, "
        "validation or saving) against the reference's trainer.train().",
        "Validation loss: mean cross-entropy on assistant tokens of the held-out chats, same function for both.",
        "Notes: " + "; ".join(f"{r['recipe']}: {r['note']}" for r in results) + ".",
        "Throughput on this shared machine drifts with other users' load (load avg column, 2 cores): "
        "tokens per CPU-second is the steadier comparison.",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    RESULTS.with_suffix(".json").write_text(json.dumps({"peak_gflops": peak, "results": results}, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
