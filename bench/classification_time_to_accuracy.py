"""Time to accuracy for intent classification on CLINC150: a Hugging Face Trainer sweep against tunesmith's
defaults (issue 16, item 3).

Every contender fine-tunes minilm-l6 (all weights) on the in-scope train split and is scored the same way:
in-scope test accuracy, and out-of-scope handling through `evaluation.abstain_below` as tunesmith's
evaluation applies it (evaluate/classifiers.py: a temperature fitted on in-scope validation, then abstain when
the calibrated top probability is below the threshold). The threshold is calibrated on validation: the value
that maximises joint accuracy over in-scope validation plus `oos_val` (an abstention is right for an
out-of-scope query, wrong for an in-scope one). Reported on test: out-of-scope recall (share of `oos_test`
abstained on) and in-scope accuracy when abstaining.

- HF Trainer: learning rates × batch sizes, `--epochs` epochs, dynamic padding (DataCollatorWithPadding),
  validation on the whole split once per epoch, the final model scored (a user's usual recipe).
- tunesmith: `run_training` with no training settings (model minilm-l6, method full, as `tunesmith init
  --task classification` writes): batch size, learning rate (range test), epochs, validation cadence and
  subset, early stopping all resolved from the data (config/auto.py).

Wall time: model load to trained model (HF: load + Trainer.train with its validations; tunesmith: the whole
`run_training`, i.e. load, range test, steps, validations, checkpoints, final save). Scoring is not timed.

    .venv/bin/python bench/classification_time_to_accuracy.py [--quick] [--intents N] [--epochs 3]
        [--lrs 2e-5,5e-5,1e-4] [--batches 16,32] [--threads N] [--data PATH] [--out PATH]
        [--only all|hf|tunesmith]

`--quick`: 30 intents and 1 HF epoch (minutes, e.g. on a busy machine); the full run needs a quiet one.
Writes bench/results/classification_time_to_accuracy.md (and .json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "clinc150" / "data_full.json"
RESULTS = ROOT / "bench" / "results" / "classification_time_to_accuracy.md"
MODEL = "minilm-l6"
SEED = 42


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="30 intents, 1 HF epoch (unless given)")
    parser.add_argument("--intents", type=int, default=None, help="in-scope intents kept (default: all 150)")
    parser.add_argument("--epochs", type=float, default=None, help="HF Trainer epochs (default 3; 1 with --quick)")
    parser.add_argument("--lrs", default="2e-5,5e-5,1e-4", help="HF learning rates, comma-separated")
    parser.add_argument("--batches", default="16,32", help="HF batch sizes, comma-separated")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--only", choices=("all", "hf", "tunesmith"), default="all",
                        help="run only these contenders; the rows this run does not measure again are kept from "
                        "--out's .json (same data), e.g. --only hf --lrs 1e-4 redoes two HF rows")
    args = parser.parse_args(argv)
    args.intents = args.intents or (30 if args.quick else None)
    args.epochs = args.epochs or (1.0 if args.quick else 3.0)
    args.lrs = [float(x) for x in args.lrs.split(",")]
    args.batches = [int(x) for x in args.batches.split(",")]
    return args


# --- data and scoring (pure) ---------------------------------------------------------------------------

def load_clinc(path: Path, intents: int | None, seed: int = 0) -> dict[str, list[tuple[str, str]]]:
    """The splits as (text, intent) pairs; with `intents`, that many in-scope intents drawn with `seed`."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    names = sorted({label for _, label in data["train"]})
    kept = set(random.Random(seed).sample(names, intents) if intents else names)
    splits = {name: [(t, y) for t, y in data[name] if y in kept] for name in ("train", "val", "test")}
    splits.update(oos_val=[tuple(x) for x in data["oos_val"]], oos_test=[tuple(x) for x in data["oos_test"]])
    return splits


def best_threshold(confidence_in: np.ndarray, correct_in: np.ndarray, confidence_oos: np.ndarray) -> float:
    """The abstention threshold maximising joint accuracy on validation (in-scope answered right + out-of-scope
    abstained on), over the observed confidences."""
    best, best_score = 0.0, -1.0
    for threshold in np.unique(np.concatenate([confidence_in, confidence_oos, [0.0]])):
        score = (correct_in & (confidence_in >= threshold)).sum() + (confidence_oos < threshold).sum()
        if score > best_score:
            best, best_score = float(threshold), float(score)
    return best


def scores(logits: dict[str, np.ndarray], targets: dict[str, np.ndarray]) -> dict:
    """In-scope test accuracy, and out-of-scope recall with a temperature and threshold fitted on validation."""
    from tunesmith.evaluate.classification import fit_temperature, softmax

    temperature = fit_temperature(logits["val"], targets["val"])
    probs = {name: softmax(value, temperature) for name, value in logits.items()}
    conf = {name: value.max(axis=1) for name, value in probs.items()}
    right = {name: probs[name].argmax(axis=1) == targets[name] for name in ("val", "test")}
    threshold = best_threshold(conf["val"], right["val"], conf["oos_val"])
    return {"test_accuracy": float(right["test"].mean()), "temperature": temperature, "abstain_below": threshold,
            "oos_recall": float((conf["oos_test"] < threshold).mean()),
            "test_accuracy_abstaining": float((right["test"] & (conf["test"] >= threshold)).mean())}


# --- contenders ----------------------------------------------------------------------------------------

def logits_of(model, tokenizer, texts: list[str], batch: int = 64) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch):
            enc = tokenizer(texts[start:start + batch], padding=True, truncation=True, max_length=128,
                            return_tensors="pt")
            out.append(model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits.float().numpy())
    return np.concatenate(out)


def score_model(model, tokenizer, labels: list[str], splits: dict) -> dict:
    index = {label: i for i, label in enumerate(labels)}
    names = ("val", "test", "oos_val", "oos_test")
    logits = {name: logits_of(model, tokenizer, [t for t, _ in splits[name]]) for name in names}
    targets = {name: np.array([index[y] for _, y in splits[name]]) for name in ("val", "test")}
    return scores(logits, targets)


def train_hf(splits: dict, labels: list[str], lr: float, batch: int, epochs: float, folder: Path,
             max_length: int = 128) -> tuple:
    """The HF Trainer recipe (dynamic padding, validation each epoch) on splits["train"] / ["val"]:
    (model, tokenizer, a row without scores). Wall time is load to trained model."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    from tunesmith.models.catalog import resolve

    index = {label: i for i, label in enumerate(labels)}
    started = time.perf_counter()
    path = resolve(MODEL).path
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(labels))

    def encoded(pairs):
        return [{**tokenizer(text, truncation=True, max_length=max_length), "labels": index[label]}
                for text, label in pairs]

    args = TrainingArguments(output_dir=str(folder), per_device_train_batch_size=batch, per_device_eval_batch_size=64,
                             learning_rate=lr, num_train_epochs=epochs, eval_strategy="epoch", save_strategy="no",
                             logging_strategy="no", report_to="none", seed=SEED, use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=encoded(splits["train"]),
                      eval_dataset=encoded(splits["val"]), data_collator=DataCollatorWithPadding(tokenizer))
    output = trainer.train()
    wall = time.perf_counter() - started
    return model, tokenizer, {"recipe": "HF Trainer", "learning_rate": lr, "batch_size": batch, "epochs": epochs,
                              "steps": output.global_step, "wall_s": wall}


def hf_run(splits: dict, labels: list[str], lr: float, batch: int, epochs: float, folder: Path) -> dict:
    model, tokenizer, row = train_hf(splits, labels, lr, batch, epochs, folder)
    return {**row, **score_model(model, tokenizer, labels, splits)}


def tunesmith_run(splits: dict, folder: Path) -> dict:
    from tunesmith.config import parse_config
    from tunesmith.train import load_run, run_training
    from tunesmith.train.monitor import read_metrics

    config = parse_config({"name": "clinc", "objective": {"task": "classification"}, "model": {"name": MODEL},
                           "method": {"name": "full"}})
    records = {name: [{"id": f"{name}-{i}", "text": t, "label": y} for i, (t, y) in enumerate(splits[name])]
               for name in ("train", "val")}
    started = time.perf_counter()
    result = run_training(config, records["train"], records["val"], folder / "run")
    wall = time.perf_counter() - started
    info = json.loads((folder / "run" / "run.json").read_text())
    training = yaml.safe_load((folder / "run" / "config.yaml").read_text())["training"]
    loaded = load_run(folder / "run")
    search = info.get("learning_rate_search", {})
    trained = [row for row in read_metrics(folder / "run") if row.get("split") == "train"]
    return {"recipe": "tunesmith defaults", "learning_rate": training["learning_rate"],
            "batch_size": training["batch_size"], "epochs": training["epochs"], "steps": result.metrics["steps"],
            "wall_s": wall, "stopped_early": result.stopped_early, "eval_every": training["eval_every"],
            "validation_subset": training["validation_subset"], "range_test_s": search.get("seconds"),
            "step_s": round(trained[-1]["elapsed"], 1) if trained else None,
            **score_model(loaded.model, loaded.tokenizer, list(loaded.labels), splits)}


# --- report --------------------------------------------------------------------------------------------

def percent(value: float) -> str:
    return f"{100 * value:.2f} %"


def render(rows: list[dict], args: argparse.Namespace, context: dict) -> str:
    hf = [r for r in rows if r["recipe"] == "HF Trainer"]
    ours = next((r for r in rows if r["recipe"] != "HF Trainer"), None)
    best = max(hf, key=lambda r: r["test_accuracy"]) if hf else None
    lines = [
        "# Classification time to accuracy: CLINC150, minilm-l6, HF Trainer sweep vs tunesmith defaults", "",
        f"Generated by `bench/classification_time_to_accuracy.py {' '.join(context['argv'])}` on {context['date']}.",
        "",
        f"- Data: `{args.data.name}` (CLINC150 data_full), {context['intents']} in-scope intents: "
        f"{context['sizes']['train']} train / {context['sizes']['val']} val / {context['sizes']['test']} test; "
        f"out-of-scope {context['sizes']['oos_val']} val / {context['sizes']['oos_test']} test.",
        f"- HF sweep: learning rates {', '.join(f'{x:g}' for x in args.lrs)} × batch sizes "
        f"{', '.join(map(str, args.batches))}, {args.epochs:g} epoch(s), validation each epoch, final model scored.",
        "- tunesmith: `run_training` with no training settings (minilm-l6, method full); resolved values below.",
        "- Scoring (not timed): in-scope test accuracy; temperature fitted on in-scope validation and "
        "`evaluation.abstain_below` chosen on validation (in-scope val + oos_val, joint accuracy), then "
        "out-of-scope recall on oos_test and in-scope test accuracy counting abstentions as wrong.",
        f"- Machine: {context['machine']}, torch threads {args.threads}; load average before/after: "
        f"{context['load_before']} / {context['load_after']}.", "",
        "| recipe | lr | batch | epochs | steps | wall (s) | in-scope test acc | OOS recall | in-scope acc "
        "abstaining | abstain_below |",
        "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['recipe']} | {r['learning_rate']:.3g} | {r['batch_size']} | {r['epochs']:g} | {r['steps']} "
                     f"| {r['wall_s']:.0f} | {percent(r['test_accuracy'])} | {percent(r['oos_recall'])} | "
                     f"{percent(r['test_accuracy_abstaining'])} | {r['abstain_below']:.3f} |")
    lines.append("")
    if best and ours:
        lines += [f"Best HF run: lr {best['learning_rate']:g}, batch {best['batch_size']}: "
                  f"{percent(best['test_accuracy'])} in {best['wall_s']:.0f} s. tunesmith defaults: "
                  f"{percent(ours['test_accuracy'])} ({100 * (ours['test_accuracy'] - best['test_accuracy']):+.2f} "
                  f"points) in {ours['wall_s']:.0f} s = **{ours['wall_s'] / best['wall_s']:.2f}×** its wall time "
                  "(target: ≥ its accuracy in ≤ 0.5×).", "",
                  f"tunesmith resolved: batch {ours['batch_size']}, learning rate {ours['learning_rate']:.3g} (range "
                  f"test {ours['range_test_s']} s), {ours['epochs']:g} epochs ({ours.get('step_s')} s in optimizer "
                  f"steps), validation every {ours['eval_every']} "
                  f"steps on {ours['validation_subset'] or 'all'} examples, "
                  f"{'stopped early' if ours['stopped_early'] else 'ran every planned step'}.", ""]
    lines += [f"Note: {note}" for note in context["notes"]]
    return "\n".join(lines) + "\n"


def write(rows: list[dict], args: argparse.Namespace, context: dict) -> None:
    context = {**context, "load_after": " ".join(f"{x:.1f}" for x in os.getloadavg())}
    if os.getloadavg()[0] > args.threads + 0.5:  # more than the bench's own threads keep busy
        context["notes"] = [*context["notes"], "the machine was shared with other work while this ran (see the load "
                            "averages): wall times are inflated and only roughly comparable between rows."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(rows, args, context), encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps({"rows": rows, "context": context}, indent=2) + "\n")


def kept_rows(args: argparse.Namespace, context: dict) -> list[dict]:
    """With --only, the other contenders' rows from the previous run of the same data (none if it differs)."""
    if args.only == "all":
        return []
    saved = args.out.with_suffix(".json")
    previous = json.loads(saved.read_text()) if saved.exists() else None
    if previous is None or previous["context"]["sizes"] != context["sizes"]:
        context["notes"].append(f"--only {args.only}: {saved.name} held no run of this data, so only its rows.")
        return []
    swept = {(lr, batch) for lr in args.lrs for batch in args.batches}

    def rerun(row: dict) -> bool:
        if row["recipe"] != "HF Trainer":
            return args.only == "tunesmith"
        return args.only == "hf" and (row["learning_rate"], row["batch_size"]) in swept

    kept = [r for r in previous["rows"] if not rerun(r)]
    context["notes"].append(f"{len(kept)} row(s) not run by this invocation (--only {args.only}) are kept from "
                            f"the run of {previous['context']['date']} (load average then "
                            f"{previous['context']['load_before']} / {previous['context']['load_after']}).")
    return kept


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    splits = load_clinc(args.data, args.intents)
    labels = sorted({y for _, y in splits["train"]})
    context = {"argv": sys.argv[1:] if argv is None else argv,
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "intents": len(labels), "sizes": {k: len(v) for k, v in splits.items()},
               "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
               "load_before": " ".join(f"{x:.1f}" for x in os.getloadavg()), "notes": []}
    rows = kept_rows(args, context)
    if args.quick:
        context["notes"].append("a --quick run (a subset of intents, 1 HF epoch): it shows the mechanism, not the "
                                "issue's target, which is judged on the full set with 3 HF epochs on a quiet machine.")
    with tempfile.TemporaryDirectory() as tmp:
        contenders = [lambda: tunesmith_run(splits, Path(tmp) / "tunesmith")] * (args.only != "hf") + [
            (lambda lr=lr, batch=batch: hf_run(splits, labels, lr, batch, args.epochs, Path(tmp) / f"hf-{lr}-{batch}"))
            for lr in args.lrs for batch in args.batches] * (args.only != "tunesmith")
        for contender in contenders:
            rows.append(contender())
            print(json.dumps(rows[-1]), flush=True)
            write(rows, args, context)  # after every row: a run cut short still leaves what it measured
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
