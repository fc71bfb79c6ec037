"""DPO vs SFT in tunesmith, and TRL's DPOTrainer, on the same examples: time per step and peak RSS.

Same model (smollm2-135m-instruct, fp32), LoRA r=16 / alpha=32 / dropout 0.05 on all linear layers, the same
pairs (the quickstart's support answers with the house sign-off chosen over a generic one:
tunesmith.quickstart.preferences), batch 4, one epoch, constant learning rate. SFT trains the chosen side of
each pair (what tunesmith's sft does with a pair file); DPO (beta 0.1) trains both sides. tunesmith computes the
reference log-probs once before training (timed separately); TRL computes them in every step with the adapter
off (its default, precompute_ref_log_probs=False); TRL runs without bf16 and with gradient checkpointing on, like
tunesmith here (checkpointing is tunesmith's default for adapters on chat data, set explicitly below). Each
measurement is one child process (peak RSS is per process); the recipes run interleaved, round after round, in
one invocation, because the machine is shared: compare the ratios. Usage:

    .venv/bin/python bench/preference.py [--pairs 32] [--batch 4] [--rounds 2] [--threads 1]

Writes bench/results/preference.md (and preference.json beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "preference.md"
MODEL = "smollm2-135m-instruct"
LORA = {"r": 16, "alpha": 32, "dropout": 0.05}
LEARNING_RATE, BETA, MAX_LENGTH, SEED = 5e-4, 0.1, 160, 42
RECIPES = ("sft", "dpo", "trl")


def _pairs(n: int) -> list[dict]:
    import random

    from tunesmith.quickstart.preferences import support_pairs

    return random.Random(SEED).sample(support_pairs(), n)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StepClock:
    """Wall and CPU time of each step, from consecutive step-end callbacks (the first step starts at `start`)."""

    def __init__(self):
        self.wall, self.cpu, self._last = [], [], None

    def start(self) -> None:
        self._last = (time.perf_counter(), time.process_time())

    def step_end(self) -> None:
        now = (time.perf_counter(), time.process_time())
        self.wall.append(now[0] - self._last[0])
        self.cpu.append(now[1] - self._last[1])
        self._last = now


def _summary(clock: StepClock) -> dict:
    later = slice(1, None)  # the first step pays one-off allocation costs
    return {"steps": len(clock.wall), "step_wall_s": statistics.median(clock.wall[later]),
            "step_cpu_s": statistics.median(clock.cpu[later]), "epoch_wall_s": sum(clock.wall),
            "epoch_cpu_s": sum(clock.cpu)}


def run_tunesmith(objective: str, args) -> dict:
    import torch

    import tunesmith.train.run as run_module
    from tunesmith.config import parse_config
    from tunesmith.train import run_training

    torch.set_num_threads(args.threads)
    pairs = _pairs(args.pairs)
    config = parse_config({"model": {"name": MODEL, "max_length": MAX_LENGTH}, "method": {"name": "lora", **LORA},
                           "training": {"objective": objective, "batch_size": args.batch, "epochs": 1,
                                        "learning_rate": LEARNING_RATE, "scheduler": "constant", "warmup_ratio": 0,
                                        "eval_every": 10_000, "seed": SEED, "num_threads": args.threads,
                                        "restore_best": False, "gradient_checkpointing": True},
                           "preference": {"dpo": {"beta": BETA}}})
    clock, reference = StepClock(), {}
    attach = run_module.attach_reference

    def timed_attach(*a, **k):  # the one-off reference pass; training steps start right after it
        wall, cpu = time.perf_counter(), time.process_time()
        attach(*a, **k)
        reference.update(wall_s=time.perf_counter() - wall, cpu_s=time.process_time() - cpu)
        clock.start()

    run_module.attach_reference = timed_attach
    with tempfile.TemporaryDirectory() as tmp:
        result = run_training(config, pairs, [], Path(tmp) / "run", callbacks=[lambda row: clock.step_end()])
    return {**_summary(clock), "tokens": result.metrics["tokens"], "train_loss": result.metrics["train_loss"],
            "reference_wall_s": reference.get("wall_s", 0.0), "reference_cpu_s": reference.get("cpu_s", 0.0),
            "peak_rss_mb": _peak_rss_mb()}


def run_trl(args) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    from tunesmith.models.catalog import resolve
    from tunesmith.models.loading import load_tokenizer

    torch.set_num_threads(args.threads)
    rows = [{"prompt": r["messages"][:-1], "chosen": [r["messages"][-1]],
             "rejected": [{"role": "assistant", "content": r["rejected"]}]} for r in _pairs(args.pairs)]
    folder = resolve(MODEL).path
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, use_safetensors=True)
    tokenizer = load_tokenizer(MODEL)
    clock = StepClock()

    class Clock(TrainerCallback):
        def on_train_begin(self, *a, **k):
            clock.start()

        def on_step_end(self, *a, **k):
            clock.step_end()

    with tempfile.TemporaryDirectory() as tmp:
        config = DPOConfig(output_dir=tmp, per_device_train_batch_size=args.batch, num_train_epochs=1,
                           learning_rate=LEARNING_RATE, lr_scheduler_type="constant", warmup_steps=0, beta=BETA,
                           max_length=MAX_LENGTH, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
                           bf16=False, fp16=False, gradient_checkpointing=True, seed=SEED, dataloader_num_workers=0)
        trainer = DPOTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows),
                             processing_class=tokenizer, callbacks=[Clock()],
                             peft_config=LoraConfig(r=LORA["r"], lora_alpha=LORA["alpha"],
                                                    lora_dropout=LORA["dropout"], target_modules="all-linear",
                                                    task_type="CAUSAL_LM"))
        output = trainer.train()
    return {**_summary(clock), "train_loss": output.training_loss, "reference_wall_s": 0.0, "reference_cpu_s": 0.0,
            "peak_rss_mb": _peak_rss_mb()}


def child(recipe: str, args) -> dict:
    load = os.getloadavg()[0]
    result = run_trl(args) if recipe == "trl" else run_tunesmith(recipe, args)
    return {"recipe": recipe, "load_before": load, "load_after": os.getloadavg()[0], **result}


def _run_child(recipe: str, args) -> dict:
    command = [sys.executable, __file__, "--child", recipe, "--pairs", str(args.pairs), "--batch", str(args.batch),
               "--threads", str(args.threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{recipe} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def planned(args) -> dict:
    """The planner's seconds per step for sft and dpo on these examples' token counts (this machine's calibration)."""
    from tunesmith.config import parse_config
    from tunesmith.models.loading import load_tokenizer
    from tunesmith.plan import plan
    from tunesmith.train.encode import encode_records

    pairs = _pairs(args.pairs)
    examples = encode_records(load_tokenizer(MODEL), pairs, "chat", MAX_LENGTH)
    out = {}
    for objective in ("sft", "dpo"):
        config = parse_config({"model": {"name": MODEL, "max_length": MAX_LENGTH},
                               "method": {"name": "lora", **LORA},
                               "training": {"objective": objective, "batch_size": args.batch, "epochs": 1,
                                            "seed": SEED}})
        estimate = plan(config, len(examples), [len(e) for e in examples],
                        target_lengths=[e.targets for e in examples], threads=args.threads, advise=False).estimate
        out[objective] = {"step_s": estimate.seconds_per_step, "peak_rss_mb": estimate.peak_memory / 2**20,
                          "reference_s": estimate.reference_seconds}
    return out


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "–"


def write_report(rows: list[dict], predicted: dict, args) -> None:
    best = {recipe: {key: min(r[key] for r in rows if r["recipe"] == recipe)
                     for key in ("step_wall_s", "step_cpu_s", "epoch_wall_s", "epoch_cpu_s", "peak_rss_mb",
                                 "reference_wall_s", "reference_cpu_s")} for recipe in RECIPES}
    for recipe in RECIPES:  # per-round ratios to the same round's SFT, then their median
        for key in ("step_cpu_s", "step_wall_s", "peak_rss_mb"):
            ratios = [r[key] / s[key] for r, s in zip([r for r in rows if r["recipe"] == recipe],
                                                      [r for r in rows if r["recipe"] == "sft"], strict=True)]
            best[recipe][f"{key} / sft"] = statistics.median(ratios)
    loads = [r[k] for r in rows for k in ("load_before", "load_after")]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "# Preference tuning: DPO vs SFT step time and memory, and TRL's DPOTrainer", "",
        f"`bench/preference.py --pairs {args.pairs} --batch {args.batch} --rounds {args.rounds} --threads "
        f"{args.threads}` on {MODEL} (fp32), LoRA r=16 all-linear, {args.pairs} pairs (quickstart answers, house "
        f"sign-off chosen over a generic one), batch {args.batch}, one epoch, max_length {MAX_LENGTH}, {args.threads} "
        f"torch thread(s) per process; {args.rounds} rounds of sft → dpo → trl, each a fresh process, in one "
        f"invocation ({when}). Machine load average during the children: {min(loads):.1f}–{max(loads):.1f} "
        "on 2 cores (shared with other work): compare ratios within a round, not absolute times.", "",
        "| recipe | step CPU s (median) | vs SFT | step wall s | vs SFT | epoch CPU s | reference pass CPU s (once) "
        "| peak RSS MB | vs SFT |", "|---|---|---|---|---|---|---|---|---|"]
    names = {"sft": "tunesmith sft (chosen side)", "dpo": "tunesmith dpo", "trl": "TRL DPOTrainer + PEFT"}
    for recipe in RECIPES:
        b = best[recipe]
        lines.append(f"| {names[recipe]} | {b['step_cpu_s']:.2f} | {b['step_cpu_s / sft']:.2f}× | "
                     f"{b['step_wall_s']:.2f} | {b['step_wall_s / sft']:.2f}× | {b['epoch_cpu_s']:.1f} | "
                     f"{b['reference_cpu_s']:.1f} | {b['peak_rss_mb']:.0f} | {b['peak_rss_mb / sft']:.2f}× |")
    lines += ["", "Each cell: the best of the rounds (other load only adds time); the ratio columns: the median over "
              "rounds of each round's ratio to that round's SFT.", "",
              "Planner (this machine's calibration, same token counts): "
              f"sft {predicted['sft']['step_s']:.2f} s/step, dpo {predicted['dpo']['step_s']:.2f} s/step "
              f"(ratio {_ratio(predicted['dpo']['step_s'], predicted['sft']['step_s'])}), reference pass "
              f"{predicted['dpo']['reference_s']:.1f} s; peak memory sft {predicted['sft']['peak_rss_mb']:.0f} MB, dpo "
              f"{predicted['dpo']['peak_rss_mb']:.0f} MB (ratio "
              f"{_ratio(predicted['dpo']['peak_rss_mb'], predicted['sft']['peak_rss_mb'])}).", "",
              "## Raw rows", "", "```json", *[json.dumps(r) for r in rows], "```"]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    RESULTS.with_suffix(".json").write_text(json.dumps({"rows": rows, "best": best, "planned": predicted},
                                                       indent=2), encoding="utf-8")
    print("\n".join(lines[:12 + len(RECIPES)]))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", choices=RECIPES)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args)))
        return 0
    rows = []
    for round_number in range(args.rounds):
        for recipe in RECIPES:
            rows.append({"round": round_number, **_run_child(recipe, args)})
            print(json.dumps(rows[-1]), flush=True)
    write_report(rows, planned(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
