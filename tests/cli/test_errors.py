"""Bad input gives one clear line that says what to do, and a non-zero exit."""

import subprocess
import sys

import pytest


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tunesmith", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_missing_project_file(tmp_path):
    line = one_error_line(run_cli("config", "-p", str(tmp_path)))
    assert "no project file" in line and "tunesmith quickstart" in line


def test_unknown_model_name(tmp_path):
    (tmp_path / "tunesmith.yaml").write_text("model:\n  name: gpt-17-ultra\n")
    line = one_error_line(run_cli("quickstart", "-p", str(tmp_path)))
    assert "gpt-17-ultra" in line and "smollm2-135m-instruct" in line and "local Hugging Face folder" in line


@pytest.mark.parametrize("target", ["/proc/tunesmith-cannot-write-here", "/dev/null/project"])
def test_unwritable_directory(target):
    line = one_error_line(run_cli("quickstart", "-p", target))
    assert target in line and "Choose a folder you can write to" in line


def test_help_is_beginner_friendly():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "quickstart" in result.stdout and "models" in result.stdout


def test_init_writes_a_project_from_options(tmp_path):
    target = tmp_path / "support-bot"
    result = run_cli("init", "-p", str(target), "--task", "classification", "--description", "Route tickets",
                     "--users", "agents", "--expected-output", "a queue name", "--data", "tickets.csv")
    assert result.returncode == 0, result.stderr
    from tunesmith.config import load_config

    config = load_config(target)
    assert config.objective.task == "classification" and config.model.name == "minilm-l6"
    assert config.data.sources[0].path == "tickets.csv"
    assert config.data.test_share > 0 and "test_share" not in (target / "tunesmith.yaml").read_text()  # a default
    again = run_cli("init", "-p", str(target), "--task", "chat", "--description", "x", "--users", "",
                    "--expected-output", "")
    assert one_error_line(again).endswith("already exists. Edit it, or choose a new folder.")


def test_a_hint_never_runs_into_the_message():
    from tunesmith.errors import TunesmithError

    assert str(TunesmithError("no run 'x' in runs", "Pass a run id.")) == "no run 'x' in runs. Pass a run id."
    assert str(TunesmithError("it failed.", "Retry.")) == "it failed. Retry."
    assert str(TunesmithError("which one?", " Pick one. ")) == "which one? Pick one."
    assert str(TunesmithError("alone")) == "alone"


def test_a_config_error_line_is_two_sentences(tmp_path):
    (tmp_path / "tunesmith.yaml").write_text("bogus: 1\n")
    line = one_error_line(run_cli("config", "-p", str(tmp_path)))
    assert "Valid keys:" in line and "tune. Fix the key or value named above" in line
