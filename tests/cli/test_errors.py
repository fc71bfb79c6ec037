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
    line = one_error_line(run_cli("config", str(tmp_path)))
    assert "no project file" in line and "tunesmith quickstart" in line


def test_unknown_model_name(tmp_path):
    (tmp_path / "tunesmith.yaml").write_text("model:\n  name: gpt-17-ultra\n")
    line = one_error_line(run_cli("quickstart", str(tmp_path)))
    assert "gpt-17-ultra" in line and "smollm2-135m-instruct" in line and "local Hugging Face folder" in line


@pytest.mark.parametrize("target", ["/proc/tunesmith-cannot-write-here", "/dev/null/project"])
def test_unwritable_directory(target):
    line = one_error_line(run_cli("quickstart", target))
    assert target in line and "Choose a folder you can write to" in line


def test_help_is_beginner_friendly():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "quickstart" in result.stdout and "models" in result.stdout
