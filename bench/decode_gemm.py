"""The GEMMs of one decode step of SmolLM2-135M at 1 and 8 rows, one thread: torch's `F.linear`, oneDNN's
packed linear (what `serve.linear_kernel: onednn` uses) and bfloat16 weights, per layer shape and summed over
the model (30 blocks + the 49,152 × 576 output head). Issue 16 item 5 asks for 6× a one-row loop at 8 clients;
this shows how far the GEMMs alone allow it.

Caveat: each shape is timed alone, so the blocks' small matrices (1–3.5 MB) stay in the CPU cache between
calls, which a real step (540 MB of weights streamed once) does not allow; only the head (113 MB) is timed as a
step meets it. Usage: .venv/bin/python bench/decode_gemm.py (prints a markdown table; needs a quiet machine).
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch.utils.mkldnn import MkldnnLinear

# (out, in) of each linear and how many a step runs: q and o, k and v, gate and up, down, the head
SHAPES = {"q/o": ((576, 576), 60), "k/v": ((192, 576), 60), "gate/up": ((1536, 576), 60),
          "down": ((576, 1536), 30), "head": ((49152, 576), 1)}


def best_ms(fn, calls: int = 30, rounds: int = 5) -> float:
    fn()
    fn()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - started) / calls)
    return min(times) * 1e3


def kernels(out_features: int, in_features: int, rows: int) -> dict:
    weight, x = torch.randn(out_features, in_features), torch.randn(rows, in_features)
    plain = torch.nn.Linear(in_features, out_features, bias=False)
    plain.weight.data = weight
    packed = MkldnnLinear(plain, torch.float32)
    weight16, x16 = weight.to(torch.bfloat16), x.to(torch.bfloat16)
    return {"F.linear fp32": lambda: F.linear(x, weight), "oneDNN fp32": lambda: packed(x),
            "F.linear bf16": lambda: F.linear(x16, weight16)}


def main() -> None:
    torch.set_num_threads(1)
    names = list(kernels(8, 8, 1))
    print("| rows | shape | " + " | ".join(f"{n} ms" for n in names) + " |")
    print("|---|---|" + "---|" * len(names))
    for rows in (1, 8):
        totals = dict.fromkeys(names, 0.0)
        for shape, ((out_features, in_features), count) in SHAPES.items():
            timed = {n: best_ms(fn) for n, fn in kernels(out_features, in_features, rows).items()}
            print(f"| {rows} | {shape} | " + " | ".join(f"{timed[n]:.3f}" for n in names) + " |")
            totals = {n: totals[n] + timed[n] * count for n in names}
        print(f"| {rows} | **step** | " + " | ".join(f"**{totals[n]:.1f}**" for n in names) + " |")


if __name__ == "__main__":
    main()
