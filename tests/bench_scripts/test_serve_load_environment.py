"""bench/serve_load.py says what it ran with (issue 16: a rerun gave 3.23× where the record said 4.88×, and
nothing in the record told the two runs apart): machine, libraries, threads, environment, commit and load."""

import argparse

import serve_load as bench  # bench/ is on sys.path (conftest.py)


def test_the_report_names_threads_environment_and_load(monkeypatch):
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    args = argparse.Namespace(threads=2, time_limit=120.0, budget_8=10, budget_32=20)
    text = "\n".join(bench.run_environment(args, (4.0, 3.0, 2.0)))
    assert "## Ran with" in text and f"torch {torch.__version__}" in text and "commit " in text
    assert "2 intra-op" in text and "OMP_NUM_THREADS=3" in text and "before: 4.0 3.0 2.0" in text
    assert "other work was running" in text  # a load of 4 on the record's quiet-machine comparison
