"""Which split evaluation scores, and how it says so: a pinned test file is scored as given, a project
without one gets a carved test split, and scoring validation leads every view with a warning."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tunesmith.config import parse_config
from tunesmith.project import Project

BENCHMARK = [(f"Benchmark question {i}: does the Trail {i} fold flat enough for the boot of a small car?",
              f"No, the Trail {i} does not fold; the Fold {i} does.") for i in range(6)]
BENCHMARK.append(BENCHMARK[0])  # the user's own duplicate: their benchmark, scored as given


def _chat(question: str, answer: str) -> dict:
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}


def _project(root, tiny_lm_dir, data: dict, files: dict[str, list[tuple[str, str]]]) -> Project:
    for name, rows in files.items():
        (root / name).write_text("".join(json.dumps(_chat(*row)) + "\n" for row in rows), encoding="utf-8")
    config = parse_config({
        "objective": {"task": "chat", "description": "Answer questions about e-bikes."},
        "data": data, "model": {"name": str(tiny_lm_dir), "max_length": 64},
        "method": {"name": "lora", "r": 2, "alpha": 4, "dropout": 0.0},
        "training": {"max_steps": 1, "batch_size": 4, "eval_every": 1, "warmup_ratio": 0.0, "num_threads": 1},
        "evaluation": {"max_new_tokens": 2, "batch_size": 8, "few_shot_k": 0, "bootstrap_samples": 100},
    })
    return Project.create(root, config)


def _own(n: int) -> list[tuple[str, str]]:
    return [(f"Support ticket {i}: my order {i * 7919 % 1009} is late", f"Order {i} ships on day {i % 5}.")
            for i in range(n)]


def _eval(run_dir, *args: str):
    from tunesmith.cli import _register_commands, app

    _register_commands()
    result = CliRunner().invoke(app, ["eval", str(run_dir), "--no-baselines", *args], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output, json.loads((run_dir / "eval" / "report.json").read_text())


def test_a_pinned_test_file_of_n_records_is_evaluated_on_exactly_n(tmp_path, tiny_lm_dir):
    from tunesmith.data import prepare
    from tunesmith.train import train

    leaks = [BENCHMARK[1], (BENCHMARK[2][0], "Yes it folds."), (BENCHMARK[3][0] + " Thanks!", BENCHMARK[3][1])]
    project = _project(tmp_path, tiny_lm_dir, {"sources": [{"path": "train.jsonl"},
                                                          {"path": "bench.jsonl", "split": "test"}]},
                       {"train.jsonl": [*_own(12), *leaks], "bench.jsonl": BENCHMARK})
    dataset = prepare(project)
    run = train(project, dataset)
    output, report = _eval(run.run_dir)
    assert report["split"] == "test" and report["n_items"] == len(BENCHMARK) and report["caveat"] is None
    assert [item["id"] for item in report["items"]] == [f"bench-{k}" for k in range(1, len(BENCHMARK) + 1)]
    assert report["split_note"] == ("pinned by bench.jsonl, used as given; 3 record(s) of other sources that "
                                    "duplicate it dropped")
    assert f"Held-out test split · {len(BENCHMARK)} examples" in output and "Optimistic" not in output


def test_without_a_pinned_test_the_carved_test_split_is_scored_and_named(tmp_path, tiny_lm_dir):
    from tunesmith.data import prepare
    from tunesmith.evaluate import compare

    project = _project(tmp_path, tiny_lm_dir, {"sources": [{"path": "chat.jsonl"}]}, {"chat.jsonl": _own(30)})
    dataset = prepare(project)
    comparison = compare(project, dataset, [], out_dir=tmp_path / "eval")
    report = json.loads(comparison.report_json.read_text())
    assert report["split"] == "test" and report["n_items"] == len(dataset.split("test")) == 3
    assert report["split_note"].startswith("carved by tunesmith: 10% of the unpinned records")
    assert report["split_note"] in comparison.report_html.read_text()
    assert not comparison.caveat


@pytest.mark.parametrize("how", ["no test split", "evaluation.split=validation"])
def test_scoring_validation_says_the_numbers_are_optimistic_first(tmp_path, tiny_lm_dir, how):
    from tunesmith.data import prepare
    from tunesmith.train import train

    data = {"sources": [{"path": "chat.jsonl"}], "validation_share": 0.2}
    if how == "no test split":
        data["test_share"] = 0
    project = _project(tmp_path, tiny_lm_dir, data, {"chat.jsonl": _own(20)})
    dataset = prepare(project)
    run = train(project, dataset)
    output, report = _eval(run.run_dir, *(["--set", how] if "=" in how else []))
    assert report["split"] == "validation" and report["n_items"] == len(dataset.split("validation"))
    first = output.splitlines()[0]  # before any model loads, and again above the table
    text = " ".join(output.split())  # rich wraps long lines
    assert first.startswith("warning: Optimistic numbers") and "validation split also chose the checkpoint" in text
    assert text.count("warning: Optimistic numbers") == 2
    expected = "the dataset has no test split" if how == "no test split" else "evaluation.split is validation"
    assert expected in report["caveat"]
    html = (run.run_dir / "eval" / "report.html").read_text()
    assert html.split("<body>", 1)[1].lstrip().startswith('<p class="caveat" id="caveat">⚠ Optimistic numbers')
    assert "Validation split (optimistic)" in text
    assert report["caveat"] in (run.run_dir / "README.md").read_text()
