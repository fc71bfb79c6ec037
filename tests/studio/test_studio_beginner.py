"""What a beginner sees on each page, without a browser: the terminal command for what the page does (built by
one helper, reflecting the choices made), the state of the project on load, and the side-by-side chat asking
both models under the run's inference contract."""

from __future__ import annotations

import json
import shlex

import pytest

from tunesmith.config import parse_config
from tunesmith.project import Project
from tunesmith.runs import InferenceContract
from tunesmith.studio import cli_hint
from tunesmith.studio.context import StudioContext

PAGES = {"objective", "data", "model", "train", "evaluate", "deploy", "improve"}


def terminal_lines(markdown: str) -> list[list[str]]:
    """The commands of a 'Same from a terminal' block, split as a shell splits them."""
    body = markdown.split("```shell\n", 1)[1].split("\n```", 1)[0]
    return [shlex.split(line) for line in body.splitlines()]


def test_a_command_is_quoted_for_the_shell_and_leaves_out_unset_options(tmp_path):
    root = tmp_path / "my project"
    line = cli_hint.command("init", root, task="chat", description="Answer 'bike' questions", users=None,
                            resume=False, dry_run=True)
    assert shlex.split(line) == ["tunesmith", "init", "-p", str(root), "--task", "chat", "--description",
                                 "Answer 'bike' questions", "--dry-run"]


def test_every_page_shows_its_terminal_command(tmp_path):
    from tunesmith.studio import build_studio

    demo = build_studio(tmp_path)
    hints = {block.elem_id.removeprefix("cli-"): block for block in demo.blocks.values()
             if (getattr(block, "elem_id", None) or "").startswith("cli-")}
    assert set(hints) == PAGES
    for page, block in hints.items():
        assert "Same from a terminal" in block.value, page
        assert all(words[0] == "tunesmith" for words in terminal_lines(block.value)), page


def test_the_commands_follow_the_choices_on_each_page(tmp_path):
    from tunesmith.studio.pages import deploy, evaluate, improve, model, objective, train

    ctx = StudioContext(tmp_path)
    root = str(tmp_path)
    assert terminal_lines(objective.init_command(ctx, "classification", "Sort tickets", " ", "A label"))[0] == [
        "tunesmith", "init", "-p", root, "--task", "classification", "--description", "Sort tickets",
        "--expected-output", "A label"]
    plan, train_line, _config = terminal_lines(model.model_commands(ctx, "smollm2-360m-instruct",
                                                                    model.PRESETS["quick"].label))
    assert plan[-2:] == ["--set", "model.name=smollm2-360m-instruct"] and train_line[4:6] == ["--preset", "quick"]
    assert ["tunesmith", "train", "-p", root, "--run", "20261206-1200-lora"] in terminal_lines(
        train.train_commands(ctx, "20261206-1200-lora"))
    compare, serve = terminal_lines(evaluate.evaluate_commands(ctx, "abc123", ["run-a", "run-b"], "run-a"))
    assert compare == ["tunesmith", "compare", "run-a", "run-b", "-p", root, "--data", "data/abc123"]
    assert serve == ["tunesmith", "serve", "runs/run-a", "-p", root]
    export, serve = terminal_lines(deploy.deploy_commands(ctx, "run-a", "gguf", str(tmp_path / "runs" / "run-a"),
                                                          8123.0))
    assert export == ["tunesmith", "export", "run-a", "-p", root, "--format", "gguf"]
    assert serve == ["tunesmith", "serve", "runs/run-a", "-p", root, "--port", "8123"]
    assert terminal_lines(improve.improve_commands(ctx, "kto", "run-a"))[0][-2:] == ["--objective", "kto"]


def test_pages_say_what_to_do_first_in_an_empty_folder(tmp_path):
    from tunesmith.studio.pages import data, deploy, evaluate, improve, train

    ctx = StudioContext(tmp_path)
    said = [data.current_state(ctx)[0], train.no_runs_text(ctx), evaluate.empty_state(ctx), deploy.empty_state(ctx),
            improve.empty_state(ctx, False, False)]
    assert all("Objective" in text for text in said), said
    Project.create(tmp_path, parse_config({"name": "bikes"}))
    assert "No data files yet" in data.current_state(ctx)[0]
    assert "Data" in train.no_runs_text(ctx)
    assert "Nothing to compare yet" in evaluate.empty_state(ctx)
    assert "Nothing to deploy yet" in deploy.empty_state(ctx)
    assert "No model in production yet" in improve.empty_state(ctx, False, False)


def test_the_evaluate_page_rebuilds_its_table_from_the_last_report(tmp_path):
    from tunesmith.studio.pages.evaluate import last_report

    ctx = StudioContext(tmp_path)
    verdict, table, _ = last_report(ctx)
    assert verdict == "" and table["visible"] is False  # no table headed "1 2 3" under an empty verdict
    run = tmp_path / "runs" / "20261206-1200-lora" / "eval"
    run.mkdir(parents=True)
    estimate = {"mean": 0.5, "low": 0.25, "high": 0.75, "n": 4, "method": "bootstrap"}
    (run / "report.json").write_text(json.dumps({
        "task": "chat", "primary_metric": "token_f1", "verdict": "The run is better.",
        "contenders": [{"name": "base zero-shot", "kind": "baseline", "metrics": {"token_f1": estimate},
                        "corpus": {"chrf": 12.5}},
                       {"name": "20261206-1200-lora", "kind": "run",
                        "metrics": {"token_f1": {**estimate, "mean": 0.9}, "exact_match": None}, "corpus": {}}]}))
    verdict, table, _ = last_report(ctx)
    assert "The run is better." in verdict
    assert table["headers"] == ["contender", "kind", "token_f1 ★", "exact_match", "chrf"]
    assert table["value"] == [["base zero-shot", "baseline", "0.500 [0.250, 0.750]", "–", "12.50"],
                              ["20261206-1200-lora", "run", "0.900 [0.250, 0.750]", "–", "–"]]


def test_the_monitor_line_has_no_raw_none_and_says_when_logging_is_off(tmp_path):
    from tunesmith.studio.pages.improve import LOGGING_OFF, monitor, totals_line

    assert totals_line({"requests": 0, "latency_p50_ms": None, "mean_score": 0.25}) == "requests: 0, mean score: 0.25"
    Project.create(tmp_path, parse_config({"name": "bikes"}))
    summary, _report = monitor(StudioContext(tmp_path))
    assert "None" not in summary and LOGGING_OFF in summary


@pytest.fixture
def spied_chat(monkeypatch):
    """generate_chat recorded instead of run: (conversations, settings) per call, each answered 'ok'."""
    from tunesmith import inference

    asked = []

    def spy(model, tokenizer, conversations, **settings):
        asked.append((model, conversations, settings))
        return [inference.Completion("ok", 1, 1, "stop") for _ in conversations]

    monkeypatch.setattr(inference, "generate_chat", spy)
    return asked


def test_both_sides_of_the_chat_answer_under_the_runs_contract(tmp_path, monkeypatch, spied_chat):
    from tunesmith.studio import playground

    contract = InferenceContract(system_prompt="You answer for Larkspur Bikes.", system_prompt_source="data",
                                 max_new_tokens=7, temperature=0.0, stop=("###",))
    project = Project.create(tmp_path, parse_config({"name": "bikes", "evaluation": {"max_new_tokens": 99}}))
    monkeypatch.setattr(playground, "base_model", lambda p: playground.Loaded("base-model", "base-tokenizer"))
    monkeypatch.setattr(playground, "run_model",
                        lambda run_dir: playground.Loaded("tuned-model", "tuned-tokenizer", contract=contract))
    history = [{"role": "user", "content": "How much is a red frame?"}]
    answers = playground.side_by_side(project, tmp_path / "runs" / "r", history, history)
    assert (answers.base, answers.tuned, answers.contract) == ("ok", "ok", contract)
    (base_model, base_asked, base_settings), (tuned_model, tuned_asked, tuned_settings) = spied_chat
    assert (base_model, tuned_model) == ("base-model", "tuned-model")
    expected = [[{"role": "system", "content": "You answer for Larkspur Bikes."}, *history]]
    assert base_asked == tuned_asked == expected
    assert base_settings == tuned_settings == {"max_new_tokens": 7, "temperature": 0.0, "stop": ("###",), "seed": 0}
    note = playground.contract_note(contract)
    assert "You answer for Larkspur Bikes." in note and "at most 7 new tokens" in note


def test_a_classification_preview_lists_labels_in_words(tmp_path):
    from tunesmith.studio.data_view import preview_pieces

    class Dataset:
        def split(self, name):
            return [{"text": "late parcel", "label": "delivery"}, {"text": "refund?", "label": "billing"},
                    {"text": "lost", "label": "delivery"}]

    project = Project.create(tmp_path, parse_config({"name": "tickets", "objective": {"task": "classification"}}))
    last = preview_pieces(project, Dataset())[-1][0]
    assert last == "examples per label in train: delivery 2, billing 1"
