"""Benchmark: does every `response_format: json_schema` answer parse and validate, with the bundled model?

Run: .venv/bin/python bench/json_schema_validity.py [--model smollm2-135m-instruct] [--prompts 50]
Starts `tunesmith serve` (the real HTTP server, in this process) and asks it through the official `openai`
client: each prompt with one of five schemas (objects, enums, arrays, numbers with bounds, nested objects,
optional fields), greedy and sampled alternately. Every answer is parsed with `json.loads` and validated with
`jsonschema`; the table (paste it into bench/results/serve_load.md) counts answers that parse, validate, and
stopped by themselves (`finish_reason: stop`) rather than at `max_tokens`.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SCHEMAS = {
    "ticket": {"type": "object", "properties": {
        "summary": {"type": "string", "maxLength": 60}, "priority": {"enum": ["low", "normal", "high"]}},
        "required": ["summary", "priority"], "additionalProperties": False},
    "order": {"type": "object", "properties": {
        "order_id": {"type": "integer", "minimum": 1, "maximum": 99999},
        "items": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"type": "string", "maxLength": 20}},
        "gift": {"type": "boolean"}},
        "required": ["order_id", "items", "gift"], "additionalProperties": False},
    "rating": {"type": "object", "properties": {
        "score": {"type": "number", "minimum": 0, "maximum": 5}, "reason": {"type": "string", "maxLength": 50}},
        "required": ["score", "reason"], "additionalProperties": False},
    "contact": {"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 30},
        "address": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20},
                                                     "zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
                    "required": ["city", "zip"], "additionalProperties": False}},
        "required": ["name", "address"], "additionalProperties": False},
    "answer": {"type": "object", "properties": {
        "answer": {"type": "string", "maxLength": 60}, "confidence": {"enum": ["low", "medium", "high"]},
        "sources": {"type": "array", "maxItems": 2, "items": {"type": "string", "maxLength": 20}}},
        "required": ["answer"], "additionalProperties": False},
}
ASKS = ["My parcel 4411 has not arrived and I need it for Friday.", "Rate our new trail shoes, please.",
        "Who should I contact in Lyon about a return?", "Order two tents and a stove, it is a present.",
        "What is the capital of France?", "The app crashes when I pay by card.",
        "Summarise: the delivery was late but the support was kind.", "Book me a bike for the weekend.",
        "My name is Ada Lovelace, I live in Paris 75001.", "How long does shipping to Berlin take?"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--prompts", type=int, default=50)
    parser.add_argument("--max-tokens", type=int, default=160)
    args = parser.parse_args()

    import jsonschema
    from openai import OpenAI

    from tunesmith.serve.runner import serve_in_thread
    from tunesmith.serve.server import build_server

    server = build_server([args.model])
    names = list(SCHEMAS)
    rows = {name: {"asked": 0, "parsed": 0, "valid": 0, "stopped": 0} for name in names}
    failures: list[str] = []
    started = time.perf_counter()
    with serve_in_thread(server.app, timeout=600) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", timeout=600)
        model = client.models.list().data[0].id
        for i in range(args.prompts):
            name, ask = names[i % len(names)], ASKS[i % len(ASKS)]
            reply = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": f"{ask} Answer as JSON."}],
                max_tokens=args.max_tokens, temperature=0.0 if i % 2 == 0 else 0.8, seed=i,
                response_format={"type": "json_schema",
                                 "json_schema": {"name": name, "schema": SCHEMAS[name], "strict": True}})
            choice, row = reply.choices[0], rows[name]
            row["asked"] += 1
            row["stopped"] += choice.finish_reason == "stop"
            try:
                value = json.loads(choice.message.content)
                row["parsed"] += 1
                jsonschema.validate(value, SCHEMAS[name])
                row["valid"] += 1
            except (ValueError, jsonschema.ValidationError) as err:
                failures.append(f"{name} #{i} ({choice.finish_reason}): {err!s:.120} :: "
                                f"{choice.message.content!r:.200}")
    elapsed = time.perf_counter() - started
    print(f"| schema ({model}) | asked | parse | validate | stopped by itself |")
    print("|---|---:|---:|---:|---:|")
    for name, row in {**rows, "all": {k: sum(r[k] for r in rows.values()) for k in rows[names[0]]}}.items():
        print(f"| {name} | {row['asked']} | {row['parsed']} | {row['valid']} | {row['stopped']} |")
    print(f"\n{args.prompts} requests in {elapsed:.0f} s (greedy and temperature 0.8 alternately, max_tokens "
          f"{args.max_tokens}).")
    for line in failures:
        print("failed:", line)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
