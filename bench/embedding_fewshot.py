"""Few examples per class: the SetFit-style `embedding` recipe against the plain classification head.

CLINC150 (../shared/datasets/clinc150/data_full.json, see ../shared/datasets/README.md): `--intents N` intents
drawn at random (seeded), K training queries per intent (K in `--shots`, drawn from the train split), and every
test-split query of those intents (30 each) to score. Both recipes train the bundled minilm-l6 with
method full through the real `run_training` (few_shot.recipe embedding / head; every other setting is the
config schema's default, printed in the results), then classify the test queries through `load_run` (the path
evaluation and `/v1/classifications` use). No validation split: with K examples per class a user holds none out.

Accuracy does not depend on machine load, so this runs on a busy machine; times are reported but are not
comparable across runs.

    .venv/bin/python bench/embedding_fewshot.py [--intents 20] [--shots 8 16] [--seeds 0] [--threads 2] [--no-write]

Writes bench/results/embedding.md (and .json): accuracy with 95% bootstrap intervals per recipe, and the paired
difference (bootstrap interval, exact McNemar p).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "clinc150" / "data_full.json"
RESULTS = Path(__file__).parent / "results" / "embedding.md"
MODEL = "minilm-l6"
SAMPLES = 2000  # bootstrap resamples


def sample(data: dict, intents: int, shots: int, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, test) records for `intents` intents drawn with `seed`, `shots` train queries each."""
    rng = random.Random(seed)
    chosen = sorted(rng.sample(sorted({label for _, label in data["train"]}), intents))
    by_label: dict[str, list[str]] = {label: [] for label in chosen}
    for text, label in data["train"]:
        if label in by_label:
            by_label[label].append(text)
    train = [{"id": f"{label}-{i}", "text": text, "label": label}
             for label in chosen for i, text in enumerate(rng.sample(by_label[label], shots))]
    rng.shuffle(train)
    test = [{"id": f"test-{i}", "text": text, "label": label}
            for i, (text, label) in enumerate(data["test"]) if label in by_label]
    return train, test


def config_for(recipe: str, threads: int):
    from tunesmith.config import ProjectConfig

    return ProjectConfig.model_validate({
        "objective": {"task": "classification"}, "model": {"name": MODEL, "max_length": 64},
        "method": {"name": "full"}, "few_shot": {"recipe": recipe}, "training": {"num_threads": threads}})


def predictions(run_dir: Path, texts: list[str]) -> list[str]:
    import torch

    from tunesmith.train import load_run

    loaded = load_run(run_dir)
    out: list[str] = []
    with torch.inference_mode():
        for start in range(0, len(texts), 64):
            tokens = loaded.tokenizer(texts[start:start + 64], return_tensors="pt", padding=True, truncation=True,
                                      max_length=64)
            out += [loaded.labels[i] for i in loaded.model(**tokens).logits.argmax(dim=1).tolist()]
    return out


def run_case(recipe: str, train: list[dict], test: list[dict], threads: int) -> dict:
    from tunesmith.train.run import run_training

    with tempfile.TemporaryDirectory(prefix=f"fewshot-{recipe}-") as folder:
        started = time.perf_counter()
        run_dir = Path(folder) / recipe
        run_training(config_for(recipe, threads), train, [], run_dir)
        seconds = time.perf_counter() - started
        predicted = predictions(run_dir, [r["text"] for r in test])
    correct = [float(p == r["label"]) for p, r in zip(predicted, test, strict=True)]
    return {"recipe": recipe, "correct": correct, "train_seconds": round(seconds, 1)}


def summarise(setfit: dict, head: dict) -> dict:
    import numpy as np

    from tunesmith.evaluate.stats import bootstrap_interval, mcnemar_p_value

    def interval(values) -> dict:
        estimate = bootstrap_interval(np.asarray(values), SAMPLES, seed=0)
        return {"mean": estimate.mean, "low": estimate.low, "high": estimate.high}

    a, b = np.asarray(setfit["correct"]), np.asarray(head["correct"])
    return {"embedding": interval(a), "head": interval(b), "difference": interval(a - b),
            "mcnemar_p": mcnemar_p_value(a, b), "n_test": int(a.size),
            "train_seconds": {"embedding": setfit["train_seconds"], "head": head["train_seconds"]}}


def markdown(rows: list[dict], args, settings: dict) -> str:
    lines = ["# Few examples per class: SetFit-style embedding recipe vs the plain classification head", "",
             "`bench/embedding_fewshot.py` on CLINC150 (data_full.json: N of its 150 intents drawn at random with "
             "the seed, K train queries per intent, all 30 test queries per intent), "
             f"bundled {MODEL}, method full, no validation split. Accuracy on the test queries, 95% BCa "
             f"bootstrap intervals ({SAMPLES} resamples); the difference is paired (same queries), with the exact "
             "McNemar p.", "",
             "| intents N | K per intent | seed | test queries | embedding recipe | plain head | difference | "
             "McNemar p | train s (emb / head) |", "|---|---|---|---|---|---|---|---|---|"]
    if args.note:
        lines[4:4] = [args.note, ""]

    def fmt(e: dict) -> str:
        return f"{e['mean']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"

    for row in rows:
        s = row["summary"]
        d, seconds = s["difference"], s["train_seconds"]
        lines.append(f"| {row['intents']} | {row['shots']} | {row['seed']} | {s['n_test']} | "
                     f"{fmt(s['embedding'])} | {fmt(s['head'])} | "
                     f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] | {s['mcnemar_p']:.2g} | "
                     f"{seconds['embedding']:.0f} / {seconds['head']:.0f} |")
    lines += ["", "Settings (the config schema's defaults unless named on the command line):", "",
              "```json", json.dumps(settings, indent=2), "```", "",
              "Times are wall-clock seconds of `run_training` on a shared, loaded machine: not comparable across "
              "runs. Accuracy does not depend on load.", ""]
    return "\n".join(lines)


def run_all(args) -> list[dict]:
    import torch

    torch.set_num_threads(args.threads)
    data = json.loads(DATA.read_text(encoding="utf-8"))
    rows = []
    for shots in args.shots:
        for seed in args.seeds:
            train, test = sample(data, args.intents, shots, seed)
            setfit, head = (run_case(recipe, train, test, args.threads) for recipe in ("embedding", "head"))
            rows.append({"shots": shots, "seed": seed, "intents": args.intents, "summary": summarise(setfit, head)})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", type=int, default=20, help="intents to draw (150: all)")
    parser.add_argument("--shots", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--note", default="", help="a paragraph for the results (what ran, and why)")
    parser.add_argument("--rows-out", type=Path, help="also write the rows as JSON here (for --merge)")
    parser.add_argument("--merge", type=Path, nargs="+", help="write the results from the --rows-out files of "
                        "earlier runs (e.g. one process per K on a busy machine) instead of running")
    args = parser.parse_args(argv)
    if args.merge:
        rows = [row for path in args.merge for row in json.loads(path.read_text(encoding="utf-8"))]
        rows.sort(key=lambda row: (row["intents"], row["shots"], row["seed"]))
    else:
        rows = run_all(args)
    if args.rows_out:
        args.rows_out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    embedding_config = config_for("embedding", args.threads)
    settings = {"few_shot": embedding_config.few_shot.model_dump(mode="json"),
                "training (plain head)": embedding_config.training.model_dump(mode="json")}
    if not args.no_write:
        RESULTS.write_text(markdown(rows, args, settings), encoding="utf-8")
        RESULTS.with_suffix(".json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2,
                                                           default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
