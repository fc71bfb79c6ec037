"""Benchmark: prepare 100k chat records (read, validate, clean, exact + near dedup, split, write).

Run: .venv/bin/python bench/data_prepare.py [--records 100000] [--tokenizer]
Writes bench/results/data_prepare.md. The data is generated (streamed to disk) before timing starts:
distinct support conversations of 150-700 characters, 3 % exact copies and 3 % small-edit paraphrases.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

TOPICS = ["password", "invoice", "shipping", "refund", "account", "login", "delivery", "warranty", "coupon",
          "subscription", "address", "payment", "return", "order", "battery", "screen", "brakes", "tyres"]
VERBS = ["change", "update", "check", "cancel", "reset", "track", "find", "fix", "replace", "renew"]
FILLER = ["as soon as possible", "before the weekend", "for my partner", "on the app", "from abroad",
          "after the update", "with a new card", "for the second time", "without an account", "today"]


def conversation(i: int, rng: random.Random) -> dict:
    topic, verb, extra = rng.choice(TOPICS), rng.choice(VERBS), rng.choice(FILLER)
    question = f"Hi, I need to {verb} my {topic} {extra}. Ticket {i}, reference {rng.randrange(10**9):09d}."
    answer = " ".join(
        f"Step {k + 1}: open {rng.choice(TOPICS)} settings, choose {rng.choice(VERBS)} and confirm code "
        f"{rng.randrange(10**6):06d}." for k in range(rng.randint(1, 6)))
    messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    if i % 4 == 0:
        messages.insert(0, {"role": "system", "content": "You are a concise support assistant."})
    return {"messages": messages, "metadata": {"facts": [f"Ticket {i}"]}}


def write_dataset(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    recent: list[dict] = []
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            roll = rng.random()
            if roll < 0.03 and recent:
                row = rng.choice(recent)
            elif roll < 0.06 and recent:
                row = json.loads(json.dumps(rng.choice(recent)))
                row["messages"][-2]["content"] = row["messages"][-2]["content"].replace("Hi,", "Hello,", 1)
            else:
                row = conversation(i, rng)
                recent = [*recent, row][-50:]
            fh.write(json.dumps(row) + "\n")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--tokenizer", action="store_true", help="also measure tokens with SmolLM2's tokenizer")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "data_prepare.md")
    args = parser.parse_args(argv)

    from tunesmith.config import ProjectConfig
    from tunesmith.data import prepare
    from tunesmith.project import Project

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_dataset(root / "chat.jsonl", args.records)
        size_mb = (root / "chat.jsonl").stat().st_size / 1e6
        project = Project.create(root, ProjectConfig.model_validate(
            {"data": {"sources": [{"path": "chat.jsonl"}], "test_share": 0.1}}))
        tokenizer = None
        if args.tokenizer:
            from tunesmith.models.loading import load_tokenizer

            tokenizer = load_tokenizer("smollm2-135m-instruct")
        baseline = peak_rss_mb()
        load_before = os.getloadavg()[0]
        start, cpu_start = time.perf_counter(), time.process_time()
        dataset = prepare(project, tokenizer)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        peak = peak_rss_mb()
        counts = dataset.manifest["counts"]
    rate = args.records / seconds
    lines = [
        "# data_prepare benchmark", "",
        f"- records: {args.records:,} chat conversations ({size_mb:.0f} MB JSONL), 3 % exact copies, "
        "3 % small-edit paraphrases",
        f"- pipeline: read + validate + clean (ftfy, HTML) + exact and near-duplicate (MinHash, 64 permutations, "
        f"LSH) + split + leak check + Parquet + manifest + HTML report{' + token stats' if tokenizer else ''}",
        f"- wall time: {seconds:.1f} s → **{rate:,.0f} records/s** (target ≥ 5,000)",
        f"- CPU time of this process: {cpu_seconds:.1f} s → {args.records / cpu_seconds:,.0f} records per CPU-second "
        f"(the machine's load average was {load_before:.1f} on 2 cores, shared with other jobs)",
        f"- peak RSS: {peak:.0f} MB (process baseline before prepare: {baseline:.0f} MB, "
        f"so prepare added ≤ {peak - baseline:.0f} MB)",
        f"- counts: {json.dumps({k: v for k, v in counts.items() if v})}",
        f"- machine: 2 shared CPU cores, Python {sys.version.split()[0]}; "
        f"measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
    ]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
