"""bench/serve_load.py says what it ran with (issue 16: a rerun gave 3.23× where the record said 4.88×, and
nothing in the record told the two runs apart): machine, libraries, threads, environment, commit and load."""

import argparse
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load():
    spec = importlib.util.spec_from_file_location("serve_load", ROOT / "bench" / "serve_load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["serve_load"] = module
    spec.loader.exec_module(module)
    return module


def test_the_report_names_threads_environment_and_load(monkeypatch):
    import torch

    bench = _load()
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    args = argparse.Namespace(threads=2, time_limit=120.0, budget_8=10, budget_32=20)
    text = "\n".join(bench.run_environment(args, (4.0, 3.0, 2.0)))
    assert "## Ran with" in text and f"torch {torch.__version__}" in text and "commit " in text
    assert "2 intra-op" in text and "OMP_NUM_THREADS=3" in text and "before: 4.0 3.0 2.0" in text
    assert "other work was running" in text  # a load of 4 on the record's quiet-machine comparison
