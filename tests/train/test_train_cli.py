import json

import yaml
from train_helpers import chat_records
from typer.testing import CliRunner

from tunesmith.cli import _register_commands, app


def test_train_command_with_preset_and_override(tiny_lm_dir, tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "chats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chat_records(30)))
    config = {"name": "demo", "objective": {"task": "chat"}, "data": {"sources": [{"path": "chats.jsonl"}]},
              "model": {"name": str(tiny_lm_dir), "max_length": 64}, "training": {"num_threads": 1}}
    (project / "tunesmith.yaml").write_text(yaml.safe_dump(config))
    _register_commands()
    result = CliRunner().invoke(app, ["train", str(project), "--preset", "quick", "--set", "training.max_steps=3",
                                      "--set", "training.eval_every=2"])
    assert result.exit_code == 0, result.output
    (run,) = (project / "runs").iterdir()
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed" and info["steps"] == 3
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["method"]["r"] == 8  # from the quick preset
    assert yaml.safe_load((project / "tunesmith.yaml").read_text()) == config  # project file untouched

    bad = CliRunner().invoke(app, ["train", str(project), "--set", "training.learning_rat=1"])
    assert bad.exit_code != 0 and "learning_rate" in str(bad.exception)
