"""The global batch defines the gradient: 8×1, 1×8 and 2 processes × 4 give the same weights."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import torch
from safetensors.torch import load_file
from train_helpers import chat_records, tiny_config

from tunesmith.train import run_training

RECORDS, VALIDATION = chat_records(24), chat_records(4, seed=5)


def _train(model_dir, run_dir, **training):
    config = tiny_config(model_dir, "lora", max_steps=3, eval_every=3, **training)
    run_training(config, RECORDS, VALIDATION, run_dir)
    return load_file(str(run_dir / "adapter" / "adapter_model.safetensors"))


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=2e-5, rtol=1e-4, msg=name)


def test_gradient_accumulation_matches_one_big_batch(tiny_lm_dir, tmp_path):
    big = _train(tiny_lm_dir, tmp_path / "8x1", batch_size=8, gradient_accumulation=1)
    small = _train(tiny_lm_dir, tmp_path / "1x8", batch_size=1, gradient_accumulation=8)
    _assert_same(big, small)
    # A different global batch really does change the result (the comparison above can fail).
    other = _train(tiny_lm_dir, tmp_path / "4x1", batch_size=4, gradient_accumulation=1)
    assert any(not torch.allclose(big[n], other[n], atol=2e-5) for n in big)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_match_one(tiny_lm_dir, tmp_path):
    single = _train(tiny_lm_dir, tmp_path / "single", batch_size=4, gradient_accumulation=2)
    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import torch
        torch.set_num_threads(1)
        from train_helpers import chat_records, tiny_config
        from tunesmith.train import run_training

        config = tiny_config({str(tiny_lm_dir)!r}, "lora", max_steps=3, eval_every=3, batch_size=4)
        run_training(config, chat_records(24), chat_records(4, seed=5), {str(tmp_path / "ddp")!r})
    """))
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(_free_port()), str(script)],
        capture_output=True, text=True, timeout=400, env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((tmp_path / "ddp" / "run.json").read_text())["world_size"] == 2
    _assert_same(single, load_file(str(tmp_path / "ddp" / "adapter" / "adapter_model.safetensors")))
