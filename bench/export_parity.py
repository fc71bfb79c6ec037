"""Parity of GGUF exports by type, with the bundled model (run by hand; ~5 min on a quiet core).

Answers held-out prompts greedily with smollm2-135m-instruct in transformers (float32, the reference),
then writes the same weights as GGUF f32 / f16 / q8_0 / q5_0 / q4_0 and measures each file through
llama.cpp: exact match of whole answers, mean first divergent token, teacher-forced next-token agreement
(the export scoring the reference's answers), file size. Quantized types are also loaded through
transformers' GGUF loader (dequantized to float32, float32 compute: the weights' rounding alone), and
one deliberately broken q8_0 file (q/k left in Hugging Face's rotary layout) shows what a writer bug
looks like. Writes bench/results/export_parity.md.

    OMP_NUM_THREADS=1 .venv/bin/python bench/export_parity.py --prompts 24 --max-new-tokens 32
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from unittest import mock

import torch

from tunesmith.deploy import gguf_runtime, gguf_writer, parity
from tunesmith.deploy.agreement import targets_of
from tunesmith.models.loading import load_causal_lm, load_tokenizer
from tunesmith.quickstart.dataset import support_examples

MODEL = "smollm2-135m-instruct"


def prompts_for(count: int) -> list[list[dict]]:
    builtin = [[{"role": "user", "content": text}] for text in parity.BUILTIN_PROMPTS]
    support = [parity._prompt_of(record) for record in support_examples(seed=11)[::7]]
    return (builtin + support)[:count]


def measure(prompts, reference, runtime, scorer) -> dict:
    candidate = runtime(prompts)
    predicted = scorer([(c.prompt_ids, targets_of(r)) for r, c in zip(reference, candidate, strict=True)])
    return parity.compare(prompts, reference, candidate, 0.0, predicted=predicted)


def row(label: str, size: float | None, report: dict, seconds: float) -> str:
    size_text = f"{size:.0f}" if size else "same file"
    return (f"| {label} | {size_text} | {report['exact_match_rate']:.0%} | {report['mean_first_divergence']:.1f} | "
            f"{report['next_token_agreement']:.3f} | {report['prompt_token_match_rate']:.0%} | {seconds:.0f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=24)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--types", default=",".join(gguf_writer.GGUF_TYPES))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "export_parity.md")
    args = parser.parse_args()

    prompts = prompts_for(args.prompts)
    model, tokenizer = load_causal_lm(MODEL).eval(), load_tokenizer(MODEL)
    start = time.perf_counter()
    reference = parity.transformers_runtime(model, tokenizer, args.max_new_tokens)(prompts)
    scored = sum(len(targets_of(answer)) for answer in reference)
    lines = [f"# GGUF export parity by type: {MODEL} (base weights), {len(prompts)} prompts",
             "", f"Reference: transformers float32 greedy, {args.max_new_tokens} new tokens, {scored} scored tokens "
             f"({time.perf_counter() - start:.0f} s). torch {torch.__version__}, {torch.get_num_threads()} "
             f"thread(s), llama.cpp threads = OMP_NUM_THREADS ({os.environ.get('OMP_NUM_THREADS', 'unset')}); "
             f"load average at start {os.getloadavg()[0]:.1f}.", "",
             "| export | MB | exact match | mean first divergent token | next-token agreement | prompts identical "
             "| seconds |", "|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="export-parity-") as tmp:
        for kind in args.types.split(","):
            path = Path(tmp) / f"{kind}.gguf"
            gguf_writer.write_gguf(model, tokenizer, path, kind)
            size = path.stat().st_size / 1e6
            runtimes = [("llama.cpp", gguf_runtime.llama_cpp_runtime(path, tokenizer, args.max_new_tokens),
                         gguf_runtime.llama_cpp_scorer(path))]
            if kind in gguf_writer.QUANTIZED_TYPES:
                runtimes.append(("dequantized, transformers fp32",
                                 *gguf_runtime.transformers_gguf_runtime(path, args.max_new_tokens)))
            for index, (runtime_name, runtime, scorer) in enumerate(runtimes):
                began = time.perf_counter()
                report = measure(prompts, reference, runtime, scorer)
                lines.append(row(f"{kind} via {runtime_name}", None if index else size, report,
                                 time.perf_counter() - began))
                print(lines[-1], flush=True)
        broken = Path(tmp) / "broken.gguf"
        with mock.patch.object(gguf_writer, "_permute", lambda weights, n_head: weights):
            gguf_writer.write_gguf(model, tokenizer, broken, "q8_0")
        began = time.perf_counter()
        report = measure(prompts, reference, gguf_runtime.llama_cpp_runtime(broken, tokenizer, args.max_new_tokens),
                         gguf_runtime.llama_cpp_scorer(broken))
        lines.append(row("q8_0, q/k not permuted (a writer bug) via llama.cpp", broken.stat().st_size / 1e6, report,
                         time.perf_counter() - began))
        print(lines[-1], flush=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
