"""distributed: fsdp on 2 CPU processes (gloo) ends with the weights of one process with the same global batch.

One torchrun launch trains LoRA and full fine-tuning sharded, then resumes the LoRA run's step-2
checkpoint sharded; the same runs in this process are the reference, and a sharded checkpoint resumes here.
Full fine-tuning clips (norm ~4.6 > 0.1); LoRA does not, so its saved Adam moments would show a gradient
scaled by the process count (Adam and clipping alone hide one). The last global batch of the epoch
leaves one process without a micro-batch, and validation splits unevenly.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap

import torch
from safetensors.torch import load_file
from train_helpers import chat_records, tiny_config

from tunesmith.config import parse_config
from tunesmith.train import run_training
from tunesmith.train.distributed import World
from tunesmith.train.sharding import Replicated, choose

RECORDS, VALIDATION = chat_records(26), chat_records(5, seed=5)
SETTINGS = {"max_steps": 4, "eval_every": 2, "scheduler": "constant", "restore_best": False, "gradient_accumulation": 2}
CLIP = {"lora": 1e3, "full": 0.1}
FILES = {"lora": ("adapter", "adapter_model.safetensors"), "full": ("model", "model.safetensors")}

WORKER = """
import sys
sys.path.insert(0, {tests!r})
import shutil
import torch
torch.set_num_threads(1)
from train_helpers import chat_records, tiny_config
from tunesmith.train import run_training
from tunesmith.train.distributed import World

world = World.from_env()  # `tunesmith train` picks its run folder on the main process and shares it
assert world.from_main(f"runs/rank-{{world.rank}}-ü") == "runs/rank-0-ü"
records, validation, out = chat_records(26), chat_records(5, seed=5), {out!r}
settings = dict({settings!r}, batch_size=2, distributed="fsdp")
for method, clip in {clip!r}.items():
    config = tiny_config({model!r}, method, max_grad_norm=clip, **settings)
    run_training(config, records, validation, out + "/" + method)
if world.main:
    shutil.copytree(out + "/lora/checkpoints/step-2", out + "/resumed/checkpoints/step-2")
world.barrier()
config = tiny_config({model!r}, "lora", max_grad_norm={clip!r}["lora"], **settings)
run_training(config, records, validation, out + "/resumed", resume=True)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _assert_close(a: dict, b: dict, atol: float = 2e-5) -> None:
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=atol, rtol=1e-4, msg=name)


def _saved(run_dir, method: str) -> dict:
    folder, name = FILES[method]
    return load_file(str(run_dir / folder / name))


def _trained_steps(run_dir) -> list[int]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [row["step"] for row in rows if row["split"] == "train"]


def test_fsdp_on_two_processes_matches_one_process(tiny_lm_dir, tmp_path):
    script = tmp_path / "fsdp.py"
    script.write_text(textwrap.dedent(WORKER.format(tests=os.path.dirname(__file__), out=str(tmp_path / "fsdp"),
                                                    settings=SETTINGS, clip=CLIP, model=str(tiny_lm_dir))))
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(_free_port()), str(script)],
        capture_output=True, text=True, timeout=400, env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    sharded = tmp_path / "fsdp"
    for method in ("lora", "full"):
        single = tmp_path / "single" / method
        config = tiny_config(tiny_lm_dir, method, batch_size=4, max_grad_norm=CLIP[method], **SETTINGS)
        run_training(config, RECORDS, VALIDATION, single)
        info = json.loads((sharded / method / "run.json").read_text())
        assert (info["world_size"], info["distributed"]) == (2, "fsdp")
        # Same checkpoint files as one process: whole tensors, optimizer state included.
        for name in ("trainable.safetensors", "optimizer.safetensors"):
            _assert_close(load_file(str(single / "checkpoints" / "step-2" / name)),
                          load_file(str(sharded / method / "checkpoints" / "step-2" / name)))
        _assert_close(_saved(single, method), _saved(sharded / method, method))
    _assert_close(_saved(tmp_path / "single" / "lora", "lora"), _saved(sharded / "resumed", "lora"))
    assert _trained_steps(sharded / "resumed") == [3, 4]  # resumed, not retrained from the start
    # A checkpoint written by 2 sharded processes resumes in one process.
    shutil.copytree(sharded / "lora" / "checkpoints" / "step-2", tmp_path / "crossed" / "checkpoints" / "step-2")
    config = tiny_config(tiny_lm_dir, "lora", batch_size=4, max_grad_norm=CLIP["lora"], **SETTINGS)
    run_training(config, RECORDS, VALIDATION, tmp_path / "crossed", resume=True)
    _assert_close(_saved(tmp_path / "single" / "lora", "lora"), _saved(tmp_path / "crossed", "lora"))
    assert _trained_steps(tmp_path / "crossed") == [3, 4]


def test_one_process_has_nothing_to_shard():
    training = parse_config({"training": {"distributed": "fsdp"}}).training
    assert type(choose(training, World())) is Replicated
