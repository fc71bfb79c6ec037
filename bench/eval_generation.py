"""How long does generative evaluation take with the bundled model? (run by hand)

Generates answers to held-out-style support questions with smollm2-135m-instruct at several batch sizes,
scores them, and extrapolates to 500 examples. Writes bench/results/eval_generation.md.

    .venv/bin/python bench/eval_generation.py --examples 32 --max-new-tokens 64
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from tunesmith.config.evaluation import EvaluationConfig
from tunesmith.evaluate.contenders import model_contender, score_chat
from tunesmith.evaluate.items import chat_items
from tunesmith.models.loading import load_causal_lm, load_tokenizer
from tunesmith.quickstart.dataset import support_examples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-sizes", default="1,8,16")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "eval_generation.md")
    args = parser.parse_args()

    items = chat_items(support_examples(seed=11))[: args.examples]
    model, tokenizer = load_causal_lm("smollm2-135m-instruct"), load_tokenizer("smollm2-135m-instruct")
    lines = [f"# Generative evaluation speed: smollm2-135m-instruct, {len(items)} support questions",
             "", f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average before start "
             f"{os.getloadavg()[0]:.1f} (2-core machine shared with other work: compare rows as ratios).",
             f"max_new_tokens={args.max_new_tokens}; greedy; includes scoring and reference perplexity.", "",
             "| batch size | seconds | examples/s | generated tokens/s | projected 500 examples |",
             "|---|---|---|---|---|"]
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
        settings = EvaluationConfig(batch_size=batch_size, max_new_tokens=args.max_new_tokens)
        contender = model_contender("base", model, tokenizer, settings)
        start = time.perf_counter()
        result = score_chat(items, contender, settings)
        seconds = time.perf_counter() - start
        tokens = sum(len(tokenizer(o, add_special_tokens=False)["input_ids"]) for o in result.outputs)
        lines.append(f"| {batch_size} | {seconds:.1f} | {len(items) / seconds:.2f} | {tokens / seconds:.1f} | "
                     f"{500 * seconds / len(items) / 60:.1f} min |")
        print(lines[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
