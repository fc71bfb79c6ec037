"""Each checkpoint's marker records its files' sizes and hashes: a damaged checkpoint is never resumed from."""

import torch

from tunesmith.config.training import TrainingConfig
from tunesmith.train import checkpoint as ckpt
from tunesmith.train.optim import build_optimizer


def _save(root, steps):
    model = torch.nn.Linear(3, 3)
    optimizer = build_optimizer(model, TrainingConfig(learning_rate=1e-3))
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    for step in steps:
        ckpt.save_checkpoint(root / f"step-{step}", dict(model.named_parameters()), optimizer, {"step": step})


def test_truncated_and_altered_checkpoints_are_skipped_reported_and_removed(tmp_path):
    _save(tmp_path, (1, 2, 3))
    weights = tmp_path / "step-3" / ckpt.WEIGHTS
    weights.write_bytes(weights.read_bytes()[:-7])  # cut short, e.g. by a full disk
    altered = tmp_path / "step-2" / ckpt.OPTIMIZER
    data = bytearray(altered.read_bytes())
    data[-1] ^= 0xFF  # same size, different bytes
    altered.write_bytes(bytes(data))
    (tmp_path / ".step-4-x").mkdir()  # staging left by a killed process

    assert [p.name for p in ckpt.complete_checkpoints(tmp_path)] == ["step-1", "step-2"]  # sizes only
    said = []
    assert ckpt.resume_point(tmp_path, said.append) == tmp_path / "step-1"
    assert len(said) == 2
    assert said[0].startswith("skipping checkpoint step-3: trainable.safetensors is ") and "were written" in said[0]
    assert said[1].startswith("skipping checkpoint step-2: optimizer.safetensors does not match the sha256")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-1"]


def test_a_missing_file_or_unreadable_marker_is_damage_and_old_markers_still_count(tmp_path):
    _save(tmp_path, (1, 2, 3))
    (tmp_path / "step-3" / ckpt.STATE).unlink()
    (tmp_path / "step-2" / ckpt.MARKER).write_text("{not json")
    assert ckpt.damage(tmp_path / "step-3") == f"{ckpt.STATE} is missing"
    assert "unreadable" in ckpt.damage(tmp_path / "step-2")
    (tmp_path / "step-1" / ckpt.MARKER).write_text("ok\n")  # written before markers listed the files
    assert ckpt.damage(tmp_path / "step-1") is None
    assert ckpt.resume_point(tmp_path, lambda line: None) == tmp_path / "step-1"
