"""The studio asks a run under its contract (Playground in process, Deploy page through the API), and
`tunesmith eval --via URL` scores the deployed model against the training-time model through the real API."""

from __future__ import annotations

import pytest
from contract_helpers import SYSTEM

USER = [{"role": "user", "content": "What colour is parcel 3?"}]


def test_the_playground_answers_under_the_runs_contract(system_project, monkeypatch):
    from tunesmith import inference
    from tunesmith.studio import playground

    _, _, folder = system_project
    contract = folder.inference_contract()
    loaded = playground.run_model(folder.path)
    expected = inference.generate_chat(loaded.model, loaded.tokenizer, [contract.conversation(USER)],
                                       max_new_tokens=contract.max_new_tokens)[0].text
    asked = []
    real = inference.generate_chat

    def spy(model, tokenizer, conversations, **settings):
        asked.append((conversations, settings))
        return real(model, tokenizer, conversations, **settings)

    monkeypatch.setattr(inference, "generate_chat", spy)
    answer = playground.reply(loaded, USER, 300)
    (conversations, settings), = asked
    assert conversations == [[{"role": "system", "content": SYSTEM}, *USER]]
    assert settings["max_new_tokens"] == contract.max_new_tokens and settings["temperature"] == 0.0
    assert answer == (expected or "(the model answered with an empty message)")
    playground.reply(loaded, [{"role": "system", "content": "Reply in French."}, *USER], 300)
    assert asked[-1][0][0][0]["content"] == "Reply in French."  # the conversation's own prompt wins


def test_the_deploy_page_asks_like_a_plain_client(monkeypatch):
    from tunesmith.studio import serving

    sent = []
    monkeypatch.setattr(serving, "_request", lambda url, body=None, api_key=None, timeout=120.0: sent.append(body)
                        or {"choices": [{"message": {"content": "ok"}}], "id": "chatcmpl-1"})
    assert serving.ask("http://127.0.0.1:1", "run-1", "Hi?") == ("ok", "chatcmpl-1")
    assert sent == [{"model": "run-1", "messages": [{"role": "user", "content": "Hi?"}]}]  # the contract decides


@pytest.fixture
def served(system_project):
    """The run served over HTTP on loopback, as `tunesmith serve` serves it."""
    from tunesmith.serve import build_server
    from tunesmith.serve.runner import serve_in_thread

    _, _, folder = system_project
    with serve_in_thread(build_server([folder.path]).app) as url:
        yield url


def test_eval_via_a_server_that_applies_the_contract_matches_the_trained_model(system_project, served):
    from tunesmith.evaluate.served import compare_served

    project, dataset, folder = system_project
    comparison, check = compare_served(project, dataset, folder.path, served)
    trained, deployed = comparison.results
    assert deployed.outputs == trained.outputs and check.first_divergence is None
    assert check.passed and check.gap == 0 and comparison.verdict.startswith("Served model passed")
    assert comparison.report_json == folder.eval_dir / "served" / "report.json"


def test_eval_via_a_server_without_the_contract_shows_where_it_diverges(system_project, monkeypatch):
    from dataclasses import replace

    from tunesmith.evaluate.served import compare_served
    from tunesmith.serve import build_server
    from tunesmith.serve.runner import serve_in_thread

    project, dataset, folder = system_project
    server = build_server([folder.path])
    registry = server.app.state.registry
    registry.sources[folder.run_id] = replace(registry.sources[folder.run_id], contract=None)  # the old server
    with serve_in_thread(server.app) as url:
        _, check = compare_served(project, dataset, folder.path, url)
    assert check.first_divergence is not None and check.first_divergence["question"].startswith("What colour")


def test_the_served_check_fails_beyond_the_gate_naming_the_example():
    from tunesmith.evaluate.served import ServedCheck

    example = {"item": 2, "question": "How much is the Trail X?", "trained": "$2,299", "served": "$1,499 — SmolLM"}
    check = ServedCheck("fact_accuracy", 0.82, 0.41, 0.02, example)
    assert not check.passed and abs(check.gap - 0.41) < 1e-9
    assert "FAILED" in check.line() and "'How much is the Trail X?'" in check.line() and "SmolLM" in check.line()
    assert ServedCheck("fact_accuracy", 0.82, 0.81, 0.02, example).passed
    assert not ServedCheck("reference_nll", 1.0, 1.5, 0.02, None).passed  # lower is better: a rise is a drop


def test_cli_eval_via(system_project, served, monkeypatch):
    from typer.testing import CliRunner

    from tunesmith.cli import _register_commands, app

    project, _, folder = system_project
    _register_commands()
    monkeypatch.chdir(project.root)
    result = CliRunner().invoke(app, ["eval", folder.run_id, "--via", served], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Served model passed" in result.output


def test_saving_the_objective_page_keeps_the_system_prompt(tmp_path):
    from tunesmith.config import load_config, parse_config
    from tunesmith.project import Project
    from tunesmith.studio.context import StudioContext
    from tunesmith.studio.pages.objective import write_objective

    Project.create(tmp_path, parse_config({"objective": {"system_prompt": SYSTEM}}))
    write_objective(StudioContext(tmp_path), "parcels", "chat", "Answer parcel questions.", "Customers", "Short.")
    objective = load_config(tmp_path).objective
    assert (objective.description, objective.system_prompt) == ("Answer parcel questions.", SYSTEM)
