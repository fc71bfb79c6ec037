"""Measure what the planner predicts: peak RSS and time of real training steps, in a fresh process.

The step is the trainer's own (method setup, loss, AdamW, clipping), so prediction and measurement
describe the same work. CPU time with a fixed thread count is reported beside wall time: on a shared
machine it is the number that does not depend on what else runs. Used by calibration, the planner's
accuracy tests and `bench/planner_accuracy.py`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tunesmith.resources import peak_rss


def rss_now() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def synthetic_batch(vocab: int, batch_size: int, seq_len: int, target_share: float, pad_id: int, seed: int = 0):
    """Random chat-like examples whose last `target_share` of tokens carry loss, collated like training."""
    import random

    from tunesmith.train.batching import collate
    from tunesmith.train.encode import IGNORE, Example

    rng = random.Random(seed)
    examples = []
    for _ in range(batch_size):
        ids = [rng.randrange(vocab) for _ in range(seq_len)]
        prompt = seq_len - max(2, round(seq_len * target_share))
        labels = [IGNORE] * prompt + ids[prompt:]
        examples.append(Example(ids, labels, sum(1 for t in labels[1:] if t != IGNORE)))
    return collate(examples, pad_id), sum(ex.targets for ex in examples)


def preference_batch(batch: dict, objective: str) -> dict:
    """A synthetic batch as a preference objective trains it: for pairs (dpo, ipo, orpo, simpo) each example's
    answer twice, as chosen and as rejected rows; for rated answers (kto) the answer and a mismatched one for the
    KL baseline; made-up reference log-probs beside them (their values do not change the work)."""
    import torch

    from tunesmith.objectives import get_objective

    rows = batch["input_ids"].shape[0]
    if get_objective(objective).data == "pairs":
        out = {key: torch.cat([value, value]) for key, value in batch.items()}
    else:
        out = dict(batch) | {f"kl_{key}": value.roll(1, dims=0) for key, value in batch.items()}
        out["desirable"] = torch.arange(rows) % 2 == 0
    out["ref"] = torch.full((rows, 2), -50.0)
    return out


def measure_in_process(model_dir: str, method: dict | None = None, batch_size: int = 4, seq_len: int = 64,
                       target_share: float = 0.5, steps: int = 3, threads: int = 1, checkpointing: bool = False,
                       task: str = "chat", labels: int = 2, objective: str = "sft",
                       release_memory: bool = True) -> dict:
    """Peak RSS and CPU time of training steps; a preference `objective` trains `batch_size` pairs (or rated
    answers) of these examples, and its reference pass (one forward pass without gradients over the same
    sequences, as `objectives.runtime.attach_reference` runs before training) is timed too. `release_memory`
    as `training.release_memory`: bounded, glibc keeps no freed activations, and large tensors pay page faults."""
    import torch

    from tunesmith.train.allocator import bound_retention

    if release_memory:
        bound_retention()  # as training does, first thing (train/run.py)
    torch.set_num_threads(threads)
    from tunesmith.config import ProjectConfig
    from tunesmith.methods import count_parameters
    from tunesmith.objectives.runtime import for_config, sequence_logps
    from tunesmith.train.optim import build_optimizer
    from tunesmith.train.setup import prepare_model

    baseline = rss_now()
    config = ProjectConfig.model_validate({
        "objective": {"task": task}, "model": {"name": str(model_dir), "max_length": max(16, seq_len)},
        "method": method or {"name": "lora"},
        "training": {"batch_size": batch_size, "gradient_checkpointing": checkpointing, "objective": objective,
                     "learning_rate": 1e-4}})  # (any rate: the steps are timed, not judged)
    run = for_config(config)
    names = [f"label{i}" for i in range(labels)] if task == "classification" else None
    model, tokenizer, chosen, _ = prepare_model(config, task, names)
    optimizer = build_optimizer(model, config.training)
    trainable, total = count_parameters(model)
    batch, targets = synthetic_batch(len(tokenizer), batch_size, seq_len, target_share, tokenizer.pad_token_id)
    if task == "classification":
        batch["labels"] = torch.arange(batch_size) % labels
        targets = batch_size
    reference = []
    if objective != "sft":
        batch = preference_batch(batch, objective)
        both = batch if "kl_input_ids" not in batch else {  # kto: the answers and the mismatched answers
            key: torch.cat([batch[key], batch[f"kl_{key}"]]) for key in ("input_ids", "attention_mask", "labels")}
        model.eval()
        with torch.no_grad():
            for _ in range(steps):
                started_cpu = time.process_time()
                sequence_logps(model, both, chosen.virtual_tokens)
                reference.append(time.process_time() - started_cpu)
    params = [p for p in model.parameters() if p.requires_grad]
    model.train()
    cpu, wall = [], []
    for _ in range(steps):
        started, started_cpu = time.perf_counter(), time.process_time()
        loss, count, _ = run.loss_sum(model, batch, task, chosen.virtual_tokens)
        (loss / count).backward()
        torch.nn.utils.clip_grad_norm_(params, config.training.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    # The first step pays one-off costs (allocations, lazy init); of the rest, the fastest is the one
    # least disturbed by other processes (the planner predicts an undisturbed machine).
    return {"baseline_rss": baseline, "peak_rss": peak_rss(), "step_cpu_seconds": min(cpu[1:] or cpu),
            "step_wall_seconds": min(wall[1:] or wall), "trainable": trainable, "total": total,
            "targets": targets, "threads": threads,
            "reference_cpu_seconds": min(reference[1:] or reference) if reference else 0.0}


def measure_step(model_dir: str, **options) -> dict:
    """`measure_in_process` in a fresh Python process, so the peak RSS belongs to this step alone."""
    done = subprocess.run([sys.executable, "-m", "tunesmith.plan.measure",
                           json.dumps({"model_dir": str(model_dir), **options})],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"measurement failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(measure_in_process(**json.loads(sys.argv[1]))))
