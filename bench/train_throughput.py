"""Training throughput: tunesmith's loop vs the Hugging Face tutorial recipe (Trainer + PEFT) and vs
the strongest CPU recipe a user who knows their tools writes (TRL SFTTrainer + PEFT).

Same model (smollm2-135m-instruct, fp32), same data (support chats from the quickstart example
dataset), LoRA r=16 / alpha=32 / dropout 0.05 on all linear layers, batch 8, same epochs, learning
rate and schedule. The HF reference pads every example to 256 tokens, as the tutorial does. The TRL
recipe (fp32 unless --mixed-precision asks for bf16 autocast, for TRL and tunesmith alike; no gradient
checkpointing: SFTConfig's bf16 and checkpointing defaults are for GPUs) pads
each batch only to its longest row, groups rows of similar length
(`train_sampling_strategy="group_by_length"`, transformers 5's name for `group_by_length`) and puts
loss on the completion only (prompt-completion conversational rows, `completion_only_loss=True`).
TRL's `padding_free` (and BFD `packing`, which implies it) is not used: it needs FlashAttention; on the
CPU's SDPA attention a flattened row lets each sequence attend to the ones before it (measured with
transformers 5.25: logits of the second of two flattened sequences off by 0.78). `wrapped` packing cuts
and joins chats, which changes what is trained. All put loss on assistant tokens only, so the final
validation losses measure the same thing (computed by the same function on each trained model). Each
recipe runs in its own child process (peak RSS is per process), back to back. Usage:

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


def _config(epochs: float, compile_model: bool = False, checkpointing: str = "auto", precision: str = "no"):
    from tunesmith.config import parse_config

    return parse_config({"model": {"name": MODEL, "max_length": 256}, "method": {"name": "lora", **LORA},
                         "training": {**TRAINING, "epochs": epochs, "eval_every": 10_000,
                                      "compile": compile_model, "gradient_checkpointing": checkpointing,
                                      "mixed_precision": precision}})


def _precision_name(args) -> str:
    return " (bf16 autocast)" if args.mixed_precision == "bf16" else ""


def run_tunesmith(args) -> dict:
    from tunesmith.train import run_training

    train, val = _data(args.train, args.validation)
    with tempfile.TemporaryDirectory() as tmp:
        started, cpu = time.perf_counter(), _cpu_seconds()
        result = run_training(_config(args.epochs, args.compile, args.checkpointing, args.mixed_precision), train,
                              val, Path(tmp) / "run")
        wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    m = result.metrics
    head = _loss_positions(train) * args.epochs  # tunesmith projects onto the vocabulary only where there is loss
    recipe = "tunesmith" + (" + compile" if args.compile else "") + (
        f" (gradient checkpointing {args.checkpointing})" if args.checkpointing != "auto" else "")
    recipe += _precision_name(args)
    return {"recipe": recipe, "wall_s": wall, "precision": args.mixed_precision,
            "real_tokens": m["tokens"], "val_loss": m["val_loss"], "padding_share": m["padding_share"],
            "positions": m["tokens"] / max(1e-9, 1 - m["padding_share"]), "head_positions": head,
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
            "positions": 256 * len(rows) * args.epochs, "head_positions": 256 * len(rows) * args.epochs,
            "steps": trainer.state.global_step, "peak_rss_mb": _peak_rss_mb(), "cpu_s": cpu, "load": os.getloadavg()[0],
            "loop_s": wall, "note": "wall is trainer.train() only"}


def _loss_positions(records: list[dict]) -> int:
    from tunesmith.models.loading import load_tokenizer
    from tunesmith.train.encode import encode_records

    return sum(ex.targets for ex in encode_records(load_tokenizer(MODEL), records, "chat", 256))


class _CountingCollator:
    """Wraps a data collator to count the positions the model actually computes (padding included)."""

    def __init__(self, collate):
        self.collate, self.real, self.positions = collate, 0, 0

    def __call__(self, features):
        batch = self.collate(features)
        ids = batch["input_ids"]
        self.positions += ids.numel()
        mask = batch.get("attention_mask")
        self.real += int(mask.sum()) if mask is not None else ids.numel()
        return batch


def run_trl(args) -> dict:
    """TRL SFTTrainer + PEFT as a practitioner configures it for CPU: dynamic padding (TRL's collator pads to
    the batch's longest row), length-grouped batches, loss on the completion only."""
    from datasets import Dataset
    from peft import LoraConfig, TaskType
    from trl import SFTConfig, SFTTrainer

    from tunesmith.models.loading import load_causal_lm, load_tokenizer
    from tunesmith.train.distributed import World
    from tunesmith.train.encode import encode_records
    from tunesmith.train.loop import evaluate

    train, val = _data(args.train, args.validation)
    tokenizer = load_tokenizer(MODEL)
    model = load_causal_lm(MODEL)
    # Every chat is system + user + assistant, so prompt/completion puts loss exactly on the assistant turn.
    rows = [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in train]
    config = SFTConfig(
        output_dir=tempfile.mkdtemp(), per_device_train_batch_size=TRAINING["batch_size"],
        num_train_epochs=args.epochs, learning_rate=TRAINING["learning_rate"],
        warmup_steps=TRAINING["warmup_ratio"], lr_scheduler_type="cosine", seed=TRAINING["seed"],
        logging_steps=5, save_strategy="no", eval_strategy="no", report_to=[], use_cpu=True,
        dataloader_num_workers=0, max_length=256, completion_only_loss=True,
        train_sampling_strategy="group_by_length",
        # SFTConfig's GPU-minded defaults, as a CPU user sets them: bf16 autocast only with --mixed-precision bf16
        # (emulated, slow, on CPUs without AVX512-BF16/AMX; it changes the precision the recipes train in);
        # gradient checkpointing recomputes the forward pass to save activations these short batches do not need.
        bf16=args.mixed_precision == "bf16", gradient_checkpointing=False)
    lora = LoraConfig(task_type=TaskType.CAUSAL_LM, r=LORA["r"], lora_alpha=LORA["alpha"],
                      lora_dropout=LORA["dropout"], target_modules="all-linear")
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows),
                         processing_class=tokenizer, peft_config=lora)
    counting = _CountingCollator(trainer.data_collator)
    trainer.data_collator = counting
    started, cpu = time.perf_counter(), _cpu_seconds()
    trainer.train()
    wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    val_ex = encode_records(tokenizer, val, "chat", 256)
    val_loss = evaluate(trainer.model, val_ex, tokenizer.pad_token_id, "chat", False, 8, World())["val_loss"]
    return {"recipe": "TRL SFTTrainer + PEFT (dynamic padding, length-grouped, completion-only)"
            + _precision_name(args), "wall_s": wall, "precision": args.mixed_precision,
            "real_tokens": counting.real, "val_loss": val_loss,
            "padding_share": 1 - counting.real / max(1, counting.positions),
            "positions": counting.positions, "head_positions": counting.positions,
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


def _shape() -> dict:
    from tunesmith.models.catalog import resolve

    return json.loads((resolve(MODEL).path / "config.json").read_text())


def model_flops_per_token(mean_length: float) -> float:
    """Credited FLOPs per real token. LoRA training: forward 2N + input-gradient backward 2N (frozen weights
    get no weight gradient), plus attention scores and mixing (2·2·layers·length·width forward, the same
    again backward)."""
    config = _shape()
    return 4 * N_PARAMS + 8 * config["num_hidden_layers"] * mean_length * config["hidden_size"]


def executed_flops(result: dict, mean_length: float) -> float | None:
    """FLOPs the recipe actually computed: the transformer body (N minus the tied embedding, whose lookup is
    no matmul) and attention at every position it ran, padding included, and the tied vocabulary projection
    (4·vocab·width: forward and input-gradient) only at the positions where the recipe computed logits.
    LoRA's own matmuls (< 1 % here) are not counted."""
    if "positions" not in result:  # a saved result from before this column existed
        return None
    config = _shape()
    head = config["vocab_size"] * config["hidden_size"]
    body = 4 * (N_PARAMS - head) + 8 * config["num_hidden_layers"] * mean_length * config["hidden_size"]
    return result["positions"] * body + result["head_positions"] * 4 * head


N_PARAMS = 134_515_008
CHILDREN = {"reference": run_reference, "trl": run_trl, "tunesmith": run_tunesmith, "compile": run_tunesmith}


def _child(recipe: str, args, precision: str = "no") -> dict:
    cmd = [sys.executable, __file__, "--child", recipe, "--train", str(args.train), "--validation",
           str(args.validation), "--epochs", str(args.epochs), "--checkpointing", args.checkpointing,
           "--mixed-precision", precision] + (["--compile"] if recipe == "compile" else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{recipe} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=200)
    parser.add_argument("--validation", type=int, default=40)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--with-compile", action="store_true", help="also run tunesmith with torch.compile")
    parser.add_argument("--checkpointing", choices=("auto", "true", "false"), default="auto",
                        help="tunesmith's training.gradient_checkpointing (auto: on for LoRA, the default)")
    parser.add_argument("--mixed-precision", choices=("no", "bf16", "both"), default="no",
                        help="bf16: TRL (bf16=True) and tunesmith (training.mixed_precision) train under bf16 "
                        "autocast; both: their float32 rows and then their bf16 rows (the HF reference: float32)")
    parser.add_argument("--child", choices=sorted(CHILDREN))
    parser.add_argument("--peak-gflops", type=float, help="use this fp32 matmul peak instead of measuring "
                        "(measure on an idle machine: a busy one understates it)")
    parser.add_argument("--from-json", nargs="+", type=Path, help="write the report from saved child results "
                        "(HF reference first, then TRL if run, then tunesmith)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="report path (a .json beside it gets the raw "
                        "results); point a smoke run elsewhere so it does not overwrite the recorded numbers")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    if args.from_json:
        results = [json.loads(p.read_text().strip().splitlines()[-1]) for p in args.from_json]
        write_report(results, args.peak_gflops or matmul_peak_gflops(), args)
        return
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)))
        return
    precisions = ("no", "bf16") if args.mixed_precision == "both" else (args.mixed_precision,)
    results = [_child("reference", args)]
    for precision in precisions:
        results += [_child("trl", args, precision), _child("tunesmith", args, precision)]
    if args.with_compile:
        results.append(_child("compile", args))
    peak = args.peak_gflops or matmul_peak_gflops()
    write_report(results, peak, args)


def _is_trl(result: dict) -> bool:
    return result["recipe"].startswith("TRL")


def write_report(results: list[dict], peak: float, args) -> None:
    ref = results[0]
    lines = [
        "# Training throughput: tunesmith vs TRL SFTTrainer + PEFT and Hugging Face Trainer + PEFT",
        "",
        f"`bench/train_throughput.py --train {args.train} --validation {args.validation} --epochs {args.epochs}"
        "` "
        f"on {MODEL} (fp32), LoRA r=16 all-linear, batch 8, {args.train} support chats "
        f"(quickstart example data), {args.epochs:g} epoch(s); every recipe in its own process, back to back, "
        f"on this machine ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).",
        "",
        "| recipe | non-padding tokens/s | speed vs HF ref | speed vs TRL | tokens per CPU-s | vs HF ref "
        "| training steps only: tokens/s | vs HF ref | wall s | peak RSS MB | RSS vs HF ref | RSS vs TRL | val loss "
        "| padding share | MFU credited | MFU executed | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        speed = r["real_tokens"] / r["wall_s"]
        mean_len = r["real_tokens"] / max(1, args.train * args.epochs)
        mfu = speed * model_flops_per_token(mean_len) / (peak * 1e9)
        executed = executed_flops(r, mean_len)
        mfu_executed = "n/a" if executed is None else f"{executed / r['wall_s'] / (peak * 1e9):.1%}"
        per_cpu, ref_per_cpu = r["real_tokens"] / r["cpu_s"], ref["real_tokens"] / ref["cpu_s"]
        loop, ref_loop = r["real_tokens"] / r["loop_s"], ref["real_tokens"] / ref["loop_s"]
        trl = next((t for t in results if _is_trl(t) and t.get("precision") == r.get("precision")), None)
        vs_trl = "n/a" if trl is None else f"{speed / (trl['real_tokens'] / trl['wall_s']):.2f}×"
        rss_vs_trl = "n/a" if trl is None else f"{r['peak_rss_mb'] / trl['peak_rss_mb']:.2f}×"
        lines.append(f"| {r['recipe']} | {speed:.0f} | {speed / (ref['real_tokens'] / ref['wall_s']):.2f}× | "
                     f"{vs_trl} | {per_cpu:.0f} | {per_cpu / ref_per_cpu:.2f}× | {loop:.0f} | {loop / ref_loop:.2f}× | "
                     f"{r['wall_s']:.0f} | {r['peak_rss_mb']:.0f} | {r['peak_rss_mb'] / ref['peak_rss_mb']:.2f}× | "
                     f"{rss_vs_trl} | {r['val_loss']:.4f} | {r['padding_share']:.1%} | {mfu:.1%} | {mfu_executed} | "
                     f"{r['load']:.1f} |")
    lines += [
        "",
        f"fp32 matmul peak (2048², torch's default threads): {peak:.0f} GFLOP/s. MFU credited counts model FLOPs "
        "per real token (4N + attention, N = 134.5 M) against that peak. MFU executed counts what each recipe "
        "computed: the body (N without the tied 28 M-parameter embedding) and attention at every position it ran, "
        "padding included, and the vocabulary projection only where the recipe computed logits (everywhere for "
        "the HF and TRL recipes, only at loss positions for tunesmith).",
        "Speed vs TRL: the ratio tunesmith/TRL the issue's ≥ 2.5× target is about.",
        "Training steps only: tunesmith's own timer around its optimisation steps (no model load, tokenising, "
        "validation or saving) against the Trainers' trainer.train().",
        "Validation loss: mean cross-entropy on assistant tokens of the held-out chats, same function for all.",
        "Notes: " + "; ".join(f"{r['recipe']}: {r['note']}" for r in results) + ".",
        "Throughput on a shared machine drifts with other users' load (load avg column): "
        "tokens per CPU-second is the steadier comparison.",
    ]
    out = getattr(args, "out", RESULTS)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps({"peak_gflops": peak, "results": results}, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
