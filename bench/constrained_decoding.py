"""Benchmark: the cost per token of constrained decoding (serve.constrain, llguidance) vs unconstrained.

Run: .venv/bin/python bench/constrained_decoding.py [--model smollm2-135m-instruct] [--max-tokens 48] [--rounds 3]
Prints a markdown table (paste it into bench/results/serve_load.md). In one process, through the server's own
engine (one row at a time, greedy, 1 torch thread), the same prompts are answered unconstrained, under a
response_format json_schema grammar and under a required tool call, interleaved round by round so that drift on
a shared machine hits all three alike. Also timed alone: one mask computation (the per-token overhead) and the
one-off setup of a tokenizer for llguidance.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ASKS = ["Describe order 1234 as JSON.", "What is the weather in Paris?", "Summarise my last invoice.",
        "Give me the delivery status of parcel 77.", "List two products for a rainy day.",
        "Book a table for two at eight."]
SCHEMA = {"type": "object", "properties": {
    "summary": {"type": "string", "maxLength": 80}, "priority": {"enum": ["low", "normal", "high"]},
    "items": {"type": "array", "maxItems": 3, "items": {"type": "string", "maxLength": 20}}},
    "required": ["summary", "priority", "items"], "additionalProperties": False}
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string", "maxLength": 24},
                                     "days": {"type": "integer", "minimum": 1, "maximum": 7}},
    "required": ["city", "days"], "additionalProperties": False}}}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import torch

    from tunesmith.serve.constrain import Constraint, json_grammar, lltokenizer, tools_grammar
    from tunesmith.serve.engine import Engine
    from tunesmith.serve.registry import ModelRegistry
    from tunesmith.serve.sampling import SamplingParams
    from tunesmith.tools import parse_tools, render

    torch.set_num_threads(1)
    registry = ModelRegistry.from_paths([args.model])
    model_id = next(iter(registry.sources))
    tokenizer = registry.tokenizer(model_id)
    started = time.perf_counter()
    lltokenizer(tokenizer)
    setup = time.perf_counter() - started
    tools = parse_tools([TOOL])
    modes = {"unconstrained": (None, ()), "json_schema": (json_grammar(SCHEMA), ()),
             "tool call (required)": (tools_grammar(tools, True, False), tools)}
    engine = Engine(registry, max_batch_size=1, batch_window_ms=0, max_queue=8).start()
    seconds = {m: 0.0 for m in modes}
    tokens = {m: 0 for m in modes}
    try:
        async def answer(ids, grammar):
            return await engine.complete(model_id, ids, SamplingParams(args.max_tokens, 0.0, grammar=grammar))

        for round_ in range(args.rounds + 1):  # round 0 warms up (model load, first masks)
            for ask in ASKS:
                for mode, (grammar, offered) in modes.items():
                    text = render(tokenizer, [{"role": "user", "content": ask}], offered)
                    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
                    begin = time.perf_counter()
                    _, done = asyncio.run(answer(ids, grammar))
                    if round_:
                        seconds[mode] += time.perf_counter() - begin
                        tokens[mode] += done.completion_tokens
    finally:
        engine.stop()

    constraint = Constraint(json_grammar(SCHEMA), tokenizer)
    logits, masks = torch.randn(len(tokenizer)), []
    for _ in range(200):
        begin = time.perf_counter()
        masked = constraint.mask(logits)
        masks.append(time.perf_counter() - begin)
        token = int(torch.argmax(masked))
        if token == tokenizer.eos_token_id:
            constraint = Constraint(json_grammar(SCHEMA), tokenizer)
        else:
            constraint.accept(token)
            logits = torch.randn(len(tokenizer))

    base = seconds["unconstrained"] / max(tokens["unconstrained"], 1)
    print(f"| mode ({args.model}, greedy, 1 thread) | tokens | ms per token | vs unconstrained |")
    print("|---|---:|---:|---:|")
    for mode in modes:
        per = seconds[mode] / max(tokens[mode], 1)
        print(f"| {mode} | {tokens[mode]} | {per * 1000:.1f} | {per / base:.2f}x |")
    print(f"\nOne mask (json_schema, {len(tokenizer)}-token vocabulary): median "
          f"{statistics.median(masks) * 1000:.2f} ms, p90 {sorted(masks)[int(len(masks) * 0.9)] * 1000:.2f} ms. "
          f"llguidance tokenizer setup (once per tokenizer): {setup:.1f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
