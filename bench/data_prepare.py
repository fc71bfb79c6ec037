"""Benchmark: prepare 100k and 300k chat records (read, validate, clean, exact + near dedup, split, write).

Run: .venv/bin/python bench/data_prepare.py [--scale 100000 300000] [--tokenizer-records 10000]
Writes bench/results/data_prepare.md. The data is generated (streamed to disk) before timing starts:
distinct support conversations of 150-700 characters, 3 % exact copies and 3 % small-edit paraphrases.
Peak RSS growth is reported per kept record at each size and between sizes (the marginal cost of one
more record, without the fixed costs of libraries and buffers): bounded memory shows as a small,
constant marginal cost.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import random
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


def write_dataset(path: Path, n: int, seed: int = 0) -> int:
    """Write n rows; returns how many are injected copies or small-edit paraphrases of earlier rows."""
    rng = random.Random(seed)
    recent: list[dict] = []
    injected = 0
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            roll = rng.random()
            if roll < 0.06 and recent:
                injected += 1
            if roll < 0.03 and recent:
                row = rng.choice(recent)
            elif roll < 0.06 and recent:
                row = json.loads(json.dumps(rng.choice(recent)))
                row["messages"][-2]["content"] = row["messages"][-2]["content"].replace("Hi,", "Hello,", 1)
            else:
                row = conversation(i, rng)
                recent = [*recent, row][-50:]
            fh.write(json.dumps(row) + "\n")
    return injected


def peak_rss_mb() -> float:
    from tunesmith.resources import peak_rss  # VmHWM: this process's own peak, not its parent's

    return peak_rss() / 2**20


def run(records: int, with_tokenizer: bool) -> dict:
    from tunesmith.config import ProjectConfig
    from tunesmith.data import prepare
    from tunesmith.project import Project

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        injected = write_dataset(root / "chat.jsonl", records)
        size_mb = (root / "chat.jsonl").stat().st_size / 1e6
        project = Project.create(root, ProjectConfig.model_validate(
            {"data": {"sources": [{"path": "chat.jsonl"}], "test_share": 0.1}}))
        tokenizer = None
        if with_tokenizer:
            from tunesmith.models.loading import load_tokenizer

            tokenizer = load_tokenizer("smollm2-135m-instruct")
        baseline = peak_rss_mb()
        load_before = os.getloadavg()[0]
        start, cpu_start = time.perf_counter(), time.process_time()
        dataset = prepare(project, tokenizer)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        counts = dataset.manifest["counts"]
        return {"records": records, "size_mb": size_mb, "injected": injected, "seconds": seconds,
                "cpu_seconds": cpu_seconds, "load": (load_before, os.getloadavg()[0]), "baseline": baseline,
                "peak": peak_rss_mb(), "counts": counts, "tokens": dataset.manifest.get("tokens"),
                "kept": sum(counts[name] for name in ("train", "validation", "test")) - counts.get("weight_repeats", 0)}


def growth(result: dict) -> float:
    return result["peak"] - result["baseline"]


def marginal(results: list[dict]) -> list[str]:
    """Peak growth between sizes per extra kept record: the per-record cost without the fixed part."""
    lines = ["## Memory per record", ""]
    for small, large in itertools.pairwise(results):
        extra = (growth(large) - growth(small)) * 2**20 / (large["kept"] - small["kept"])
        fixed = growth(small) - extra * small["kept"] / 2**20
        lines.append(f"- {small['records']:,} → {large['records']:,} records: peak RSS growth "
                     f"{growth(small):.0f} → {growth(large):.0f} MB, **{extra:,.0f} bytes per extra kept record**; "
                     f"fixed part ≈ {fixed:.0f} MB")
    return [*lines, "", MEMORY_NOTE, ""]


MEMORY_NOTE = """What stays in RAM per record (`data/grouping.py`, `data/spill.py`): while reading, a store offset
(8 B), a shared label reference (8 B), pin and source codes (5 B), input and answer digests (32 B), a
union-find parent (8 B) and one entry in each of two dicts (exact text, input: ~250 B with their 16-byte
keys); record bodies, MinHash signatures and LSH band keys are appended to anonymous files in `data/`.
Near-duplicate search then loads the low byte of each signature value (128 B per record) and one band of
keys at a time (8 B), and reads full signatures only for the few candidates the low bytes do not reject.
The split keeps position lists (~50 B per record); Parquet writing streams from the spill file in batches.
The fixed part is mostly libraries loaded on first use (pyarrow imports pandas when it builds its first
table, ~45 MB; matplotlib for the report, ~30 MB) and batch buffers (2,048 records being signed, 4,096
rows per Parquet batch)."""


def describe(result: dict, title: str) -> list[str]:
    from tunesmith.data.dedup import NUM_PERM

    counts = result["counts"]
    removed = counts.get("dropped_exact_duplicates", 0) + counts.get("dropped_near_duplicates", 0)
    lines = [
        f"## {title}", "",
        f"- records: {result['records']:,} chat conversations ({result['size_mb']:.0f} MB JSONL); "
        f"{result['injected']:,} of them are injected copies or small-edit paraphrases of earlier rows",
        f"- pipeline: read + validate + clean (ftfy, HTML) + exact and near-duplicate (MinHash, {NUM_PERM} "
        "permutations, LSH) + split + leak check + Parquet + manifest + HTML report"
        + (" + token stats (SmolLM2 tokenizer, training encoder)" if result["tokens"] else ""),
        f"- wall time: {result['seconds']:.1f} s → **{result['records'] / result['seconds']:,.0f} records/s** "
        "(target ≥ 5,000)",
        f"- CPU time of this process: {result['cpu_seconds']:.1f} s → "
        f"**{result['records'] / result['cpu_seconds']:,.0f} records per CPU-second** (1-minute load average "
        f"{result['load'][0]:.1f} before, {result['load'][1]:.1f} after, on 2 cores shared with other jobs: "
        "above ~1, wall time overstates the cost)",
        f"- peak RSS: {result['peak']:.0f} MB (baseline before prepare {result['baseline']:.0f} MB: "
        f"prepare added ≤ {growth(result):.0f} MB, **{growth(result) * 2**20 / result['kept']:,.0f} bytes per kept "
        f"record** over {result['kept']:,} kept records, fixed costs included)",
        f"- duplicates removed: {removed:,} ({counts.get('dropped_exact_duplicates', 0):,} exact, "
        f"{counts.get('dropped_near_duplicates', 0):,} near); rows injected as copies or paraphrases: "
        f"{result['injected']:,}",
        f"- splits: train {counts['train']:,}, validation {counts['validation']:,}, test {counts['test']:,}", "",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, nargs="+", default=[100_000, 300_000],
                        help="record counts to prepare, each in a fresh process (memory per record between them)")
    parser.add_argument("--tokenizer-records", type=int, default=10_000,
                        help="size of the second run, with token statistics (0 to skip)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "data_prepare.md")
    args = parser.parse_args(argv)
    lines = ["# data_prepare benchmark", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {sys.version.split()[0]}, "
             "2 shared CPU cores. Data generated before timing (bench/data_prepare.py).", ""]
    # each run in a fresh process, so peak RSS belongs to that run alone
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        results = [pool.apply(run, (records, False)) for records in sorted(args.scale)]
        for result in results:
            lines += describe(result, f"{result['records']:,} records, no tokenizer")
        if len(results) > 1:
            lines += marginal(results)
        if args.tokenizer_records:
            lines += describe(pool.apply(run, (args.tokenizer_records, True)),
                              f"{args.tokenizer_records:,} records with tokenizer")
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
