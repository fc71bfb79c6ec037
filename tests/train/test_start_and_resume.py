"""A run that cannot start leaves nothing behind; --resume continues the newest run that has a checkpoint."""

import json
import shutil

import pytest
from train_helpers import chat_records, error_line, run_cli, tiny_config, write_project

from tunesmith.errors import ModelNotFoundError
from tunesmith.train import run_training


def test_remote_code_model_is_refused_by_train_in_one_line(tiny_lm_dir, tmp_path, capsys):
    remote = tmp_path / "acme"
    shutil.copytree(tiny_lm_dir, remote)
    config = json.loads((remote / "config.json").read_text())
    config.update(model_type="acme_lm", auto_map={"AutoModelForCausalLM": "modeling_acme.AcmeForCausalLM"})
    (remote / "config.json").write_text(json.dumps(config))
    write_project(tmp_path / "proj", remote, max_steps=2)
    code, stderr = run_cli(capsys, "train", tmp_path / "proj")
    assert code == 2, stderr
    line = error_line(stderr)
    assert "model.trust_remote_code" in line and str(remote) in line
    assert "Traceback" not in stderr and not (tmp_path / "proj" / "runs").exists()


def test_a_run_that_cannot_start_leaves_no_folder(tiny_lm_dir, tmp_path, capsys):
    project = tmp_path / "proj"
    write_project(project, tiny_lm_dir, max_steps=2)
    code, stderr = run_cli(capsys, "train", project, "--set", f"model.name={tiny_lm_dir}-typo")
    assert code == 2 and "typo" in error_line(stderr)
    assert not (project / "runs").exists() or not list((project / "runs").iterdir())

    run_dir = tmp_path / "direct"
    with pytest.raises(ModelNotFoundError):
        run_training(tiny_config(f"{tiny_lm_dir}-typo"), chat_records(8), [], run_dir)
    assert not run_dir.exists()


def test_resume_continues_the_newest_run_with_a_complete_checkpoint_and_says_which(tiny_lm_dir, tmp_path, capsys):
    project = tmp_path / "proj"
    write_project(project, tiny_lm_dir, max_steps=2, eval_every=2)
    code, stderr = run_cli(capsys, "train", project)
    assert code == 0, stderr
    (done,) = (project / "runs").iterdir()
    # A newer run killed before its first checkpoint: run.json says running, nothing to continue from.
    killed = project / "runs" / "99991231-235959-lora"
    killed.mkdir()
    (killed / "run.json").write_text(json.dumps({"status": "running", "method": "lora"}))

    code, stderr = run_cli(capsys, "train", project, "--resume", "--set", "training.max_steps=4")
    assert code == 0, stderr
    assert f"resuming {done.name} from step-2" in stderr
    assert json.loads((done / "run.json").read_text())["steps"] == 4
    assert json.loads((killed / "run.json").read_text())["status"] == "running"  # left as it was


def test_resume_with_no_checkpoint_anywhere_is_an_error(tiny_lm_dir, tmp_path, capsys):
    project = tmp_path / "proj"
    write_project(project, tiny_lm_dir, max_steps=2)
    (project / "runs" / "20260101-000000-lora").mkdir(parents=True)  # left by an older version's failed start
    code, stderr = run_cli(capsys, "train", project, "--resume")
    assert code == 2
    line = error_line(stderr)
    assert "no 'lora' run" in line and "complete checkpoint" in line and "without --resume" in line
    assert list((project / "runs").iterdir()) == [project / "runs" / "20260101-000000-lora"]
    code, stderr = run_cli(capsys, "train", project, "--resume", "--run", project / "runs" / "nowhere")
    assert code == 2 and "run folder" in error_line(stderr) and "does not exist" in error_line(stderr)
    assert not (project / "runs" / "nowhere").exists()
