"""How fast does generative evaluation decode with the bundled model, through the serving engine? (run by hand)

Answers held-out-style support questions (under the quickstart's system prompt, as evaluation asks them) with
smollm2-135m-instruct two ways, in one process, alternating rounds so that machine load hits both alike:

- `static`: the path evaluation used before issue 16 item 4: prompts sorted by length, `batch` at a time,
  left-padded through `model.generate` until the longest answer of the batch ends;
- `engine`: `tunesmith.inference.generate_chat`, the serving engine's batch loop (continuous batching: a
  finished row makes room for the next prompt at once; the shared system-prompt prefix's KV is reused).

Reports generated tokens/s of each, their ratio, and how many greedy answers differ between the two.

    .venv/bin/python bench/eval_generation.py --examples 500 --max-new-tokens 96
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from tunesmith.inference import Completion, generate_chat, render_prompt
from tunesmith.models.loading import end_of_turn_ids, load_causal_lm, load_tokenizer
from tunesmith.quickstart.dataset import support_examples

TARGET = 1.5  # issue 16 item 4: the engine path's generated tokens/s over the static path's


@torch.inference_mode()
def static_generate(model, tokenizer, conversations, max_new_tokens: int, batch: int) -> list[Completion]:
    """Static batches through `model.generate` (the implementation evaluation had before it used the engine)."""
    eos = sorted(end_of_turn_ids(tokenizer, model.generation_config))
    prompts = [render_prompt(tokenizer, c) for c in conversations]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    results: list[Completion | None] = [None] * len(prompts)
    tokenizer.padding_side = "left"
    for start in range(0, len(order), batch):
        chunk = order[start: start + batch]
        enc = tokenizer([prompts[i] for i in chunk], return_tensors="pt", padding=True, add_special_tokens=False)
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos,
                             pad_token_id=tokenizer.pad_token_id)
        for i, row in zip(chunk, out[:, enc["input_ids"].shape[1]:].tolist(), strict=True):
            end = next((k for k, t in enumerate(row) if t in eos), len(row))
            results[i] = Completion(tokenizer.decode(row[:end], skip_special_tokens=True).strip(), 0, end,
                                    "stop" if end < len(row) else "length")
    return results


def conversations_of(examples: int) -> list[list[dict]]:
    records = []
    seed = 11
    while len(records) < examples:  # the generator writes 390 per seed (system prompt, question, answer)
        records += support_examples(seed=seed)
        seed += 1
    return [[m for m in r["messages"] if m["role"] != "assistant"] for r in records[:examples]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--cases", default="static:8,engine:8,engine:32",
                        help="path:rows, comma-separated; the first is the baseline, the last the candidate")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds of each case")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "eval_generation.md")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    conversations = conversations_of(args.examples)
    model, tokenizer = load_causal_lm("smollm2-135m-instruct").eval(), load_tokenizer("smollm2-135m-instruct")
    cases = [tuple(c.split(":")) for c in args.cases.split(",")]

    def run(path: str, batch: int) -> list[Completion]:
        if path == "static":
            return static_generate(model, tokenizer, conversations, args.max_new_tokens, batch)
        return generate_chat(model, tokenizer, conversations, max_new_tokens=args.max_new_tokens, batch_size=batch)

    load_before = os.getloadavg()
    rates: dict[str, list[float]] = {f"{p}:{b}": [] for p, b in cases}
    answers: dict[str, list[Completion]] = {}
    for round_ in range(args.rounds):
        for path, batch in cases:
            name = f"{path}:{batch}"
            start = time.perf_counter()
            answers[name] = run(path, int(batch))
            seconds = time.perf_counter() - start
            tokens = sum(a.completion_tokens for a in answers[name])
            rates[name].append(tokens / seconds)
            print(f"round {round_ + 1} {name}: {tokens} tokens in {seconds:.1f} s = {rates[name][-1]:.1f} tok/s",
                  flush=True)
    load_after = os.getloadavg()
    best = {name: max(r) for name, r in rates.items()}
    baseline, candidate = next(iter(best)), list(best)[-1]
    ratio = best[candidate] / best[baseline]
    differ = sum(a.text != b.text for a, b in zip(answers[baseline], answers[candidate], strict=True))
    lengths = sorted(a.completion_tokens for a in answers[candidate])
    lines = [f"# Generative evaluation speed: smollm2-135m-instruct, {len(conversations)} support questions", "",
             f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, torch {torch.__version__}, {args.threads} "
             f"threads, greedy, max_new_tokens={args.max_new_tokens}; {args.rounds} alternating round(s) per case, "
             "best round shown (median in brackets). `static:8` is evaluation before it used the engine, at its "
             f"default batch; answer lengths (tokens) p10/p50/p90: {lengths[len(lengths) // 10]}/"
             f"{lengths[len(lengths) // 2]}/{lengths[9 * len(lengths) // 10]}.", "",
             f"| path:rows | generated tokens/s | vs {baseline} |", "|---|---|---|"]
    for name in best:
        lines.append(f"| {name} | {best[name]:.1f} ({statistics.median(rates[name]):.1f}) | "
                     f"{best[name] / best[baseline]:.2f}× |")
    lines += ["", f"Target: {candidate} ≥ {TARGET}× {baseline} — **{'met' if ratio >= TARGET else 'not met'}** "
              f"({ratio:.2f}×).",
              f"Greedy answers that differ between {baseline} and {candidate}: {differ} of {len(conversations)} "
              "(left padding and a different batch composition change float rounding, rarely the argmax).",
              f"Load average (1, 5, 15 min) before: {' '.join(f'{x:.1f}' for x in load_before)}, after: "
              f"{' '.join(f'{x:.1f}' for x in load_after)} on {os.cpu_count()} logical CPUs."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
