"""bench/decode_gemm.py's kernels compute the same product (its timings need a quiet machine)."""

import decode_gemm as bench  # bench/ is on sys.path (conftest.py)
import torch


def test_the_three_kernels_agree_and_the_step_counts_every_linear():
    outputs = {name: fn().float() for name, fn in bench.kernels(24, 16, 3).items()}
    reference = outputs.pop("F.linear fp32")
    assert reference.shape == (3, 24)
    torch.testing.assert_close(outputs["oneDNN fp32"], reference, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(outputs["F.linear bf16"], reference, atol=0.1, rtol=0.05)
    assert sum(count for _, count in bench.SHAPES.values()) == 30 * 7 + 1  # 7 linears per block, and the head
