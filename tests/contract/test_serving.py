"""`tunesmith serve` (and the fine-tuning API's models) prompt a run the way evaluation did: its system prompt when
the request brings none, the request's own otherwise; its generation defaults unless the request sets them."""

from __future__ import annotations

import pytest
from contract_helpers import SYSTEM
from fastapi.testclient import TestClient

QUESTION = [{"role": "user", "content": "What colour is parcel 3?"}]


def evaluation_answer(folder, messages):
    """What evaluation answers for `messages` (the contract's conversation, its token limit, greedy)."""
    from tunesmith.inference import generate_chat
    from tunesmith.train import load_run

    run = load_run(folder.path)
    contract = folder.inference_contract()
    return generate_chat(run.model, run.tokenizer, [contract.conversation(messages)],
                         max_new_tokens=contract.max_new_tokens)[0]


def prompt_tokens(folder, messages) -> int:
    from transformers import AutoTokenizer

    from tunesmith.runs import rendered_prompt

    tokenizer = AutoTokenizer.from_pretrained(folder.tokenizer_dir)
    return len(tokenizer(rendered_prompt(tokenizer, None, messages), add_special_tokens=False)["input_ids"])


@pytest.fixture(scope="module")
def client(system_project):
    from tunesmith.serve import build_server

    _, _, folder = system_project
    with TestClient(build_server([folder.path]).app) as test_client:
        yield test_client


def ask(client, folder, messages, **settings) -> dict:
    reply = client.post("/v1/chat/completions", json={"model": folder.run_id, "messages": messages, **settings})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_a_plain_user_message_is_answered_as_evaluation_answered_it(client, system_project):
    _, _, folder = system_project
    reply = ask(client, folder, QUESTION)
    with_system = [{"role": "system", "content": SYSTEM}, *QUESTION]
    assert reply["usage"]["prompt_tokens"] == prompt_tokens(folder, with_system) != prompt_tokens(folder, QUESTION)
    expected = evaluation_answer(folder, QUESTION)
    # Greedy and evaluation's length by default (not OpenAI's temperature 1 and the server's 256 tokens).
    assert reply["choices"][0]["message"]["content"] == expected.text
    assert reply["usage"]["completion_tokens"] <= folder.inference_contract().max_new_tokens
    assert ask(client, folder, QUESTION)["choices"][0]["message"]["content"] == expected.text


def test_the_requests_own_system_prompt_and_settings_win(client, system_project):
    _, _, folder = system_project
    own = [{"role": "system", "content": "Reply in French."}, *QUESTION]
    assert ask(client, folder, own)["usage"]["prompt_tokens"] == prompt_tokens(folder, own)
    assert ask(client, folder, QUESTION, max_tokens=2)["usage"]["completion_tokens"] <= 2
    sampled = {ask(client, folder, QUESTION, temperature=1.5, seed=s)["choices"][0]["message"]["content"]
               for s in range(4)}
    assert len(sampled) > 1  # temperature honoured: not the contract's greedy default


def test_an_exported_folder_serves_with_the_contract_it_carries(system_project, tmp_path):
    from tunesmith.deploy import export
    from tunesmith.serve import build_server

    _, _, folder = system_project
    exported = export(folder.path, "hf", folder=tmp_path / "hf")
    with TestClient(build_server([f"bot={exported.path}"]).app) as client:
        reply = client.post("/v1/chat/completions", json={"model": "bot", "messages": QUESTION})
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"] == evaluation_answer(folder, QUESTION).text


def test_fine_tuning_api_models_carry_the_runs_contract(system_project):
    from tunesmith.finetune_api.serving import register_model
    from tunesmith.serve.registry import ModelRegistry, describe

    _, _, folder = system_project
    registry = ModelRegistry([describe(folder.path)])
    register_model(registry, "ft:tiny:org:bot:1", folder.path)
    assert registry.source("ft:tiny:org:bot:1").contract == folder.inference_contract()
