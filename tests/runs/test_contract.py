"""The inference contract as data: the one system-prompt rule, the export template that applies it, the tolerant
record, detection from training data, and the contract an old run (no record) still gets."""

from __future__ import annotations

import pytest

from tunesmith.config import parse_config
from tunesmith.runs import InferenceContract, RunFolder, rendered_prompt, shared_system_prompt, training_contract

SYSTEM = "You are the parcel desk."
USER = [{"role": "user", "content": "Where is parcel 7?"}]


def test_the_system_prompt_is_added_when_a_conversation_brings_none_and_overridden_when_it_does():
    contract = InferenceContract(SYSTEM, "data")
    assert contract.conversation(USER) == [{"role": "system", "content": SYSTEM}, *USER]
    own = [{"role": "system", "content": "Answer in French."}, *USER]
    assert contract.conversation(own) == own
    assert InferenceContract().conversation(USER) == USER  # no prompt: the conversation as given
    # What a client sends: the contract's own prompt is the deployment's to add; another one stays.
    assert contract.client_messages(contract.conversation(USER)) == USER
    assert contract.client_messages(own) == own


TRICKY = ['Say "hi" \\ then {{ stop }} %} {% raw %} — ünïcødé 🚲\nsecond line', "plain", "it's"]


@pytest.mark.parametrize("prompt", TRICKY)
def test_the_export_template_adds_exactly_the_prompt_evaluation_adds(tiny_lm_dir, prompt):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_lm_dir)
    contract = InferenceContract(prompt, "config")
    exported = contract.exported_template(tokenizer.chat_template)
    conversations = [USER, [{"role": "system", "content": "own"}, *USER],
                     [*USER, {"role": "assistant", "content": "At the desk."}, {"role": "user", "content": "Thanks"}]]
    for messages in conversations:  # rendered by the export's own template vs the contract + original template
        assert tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                             chat_template=exported) == rendered_prompt(tokenizer, contract, messages)
    assert InferenceContract().exported_template(tokenizer.chat_template) == tokenizer.chat_template


def test_a_damaged_record_reads_as_defaults_and_round_trips():
    contract = InferenceContract(SYSTEM, "config", "{{ x }}", 32, 0.7, ("###",), ("a", "b"))
    assert InferenceContract.from_json(contract.to_json()) == contract
    damaged = InferenceContract.from_json({"system_prompt": 3, "max_new_tokens": "many", "temperature": True,
                                           "stop": "###", "labels": "a", "system_prompt_source": "moon"})
    assert damaged == InferenceContract()
    assert InferenceContract.from_json(None) == InferenceContract()


def record(system: str | None, text: str = "hi") -> dict:
    head = [{"role": "system", "content": system}] if system is not None else []
    return {"messages": [*head, {"role": "user", "content": text}, {"role": "assistant", "content": "ok"}]}


def test_a_prompt_is_detected_only_when_every_conversation_shares_it():
    assert shared_system_prompt([record(SYSTEM), record(SYSTEM, "other")]) == SYSTEM
    assert shared_system_prompt([record(SYSTEM), record(None)]) is None
    assert shared_system_prompt([record(SYSTEM), record("Another.")]) is None
    assert shared_system_prompt([]) is None


def test_the_config_setting_wins_and_an_empty_string_means_none():
    records = [record(SYSTEM)] * 3
    detected = training_contract(parse_config({"evaluation": {"max_new_tokens": 12}}), records, "T")
    assert (detected.system_prompt, detected.system_prompt_source, detected.max_new_tokens,
            detected.chat_template, detected.temperature) == (SYSTEM, "data", 12, "T", 0.0)
    explicit = training_contract(parse_config({"objective": {"system_prompt": "Be brief."}}), records, "T")
    assert (explicit.system_prompt, explicit.system_prompt_source) == ("Be brief.", "config")
    off = training_contract(parse_config({"objective": {"system_prompt": ""}}), records, "T")
    assert (off.system_prompt, off.system_prompt_source) == (None, "none")
    labels = training_contract(parse_config({"objective": {"task": "classification"}}), [], "T", ["a", "b"])
    assert labels.labels == ("a", "b") and labels.chat_template is None


def test_an_old_run_without_a_record_gets_what_its_evaluation_used(old_project, monkeypatch):
    folder = RunFolder(old_project / "runs" / "20261206-152322-lora")
    assert folder.info().inference is None
    contract = folder.inference_contract()
    # Its data had no system prompt; its config evaluated with evaluation.max_new_tokens: 8, greedily.
    assert (contract.recorded, contract.system_prompt, contract.max_new_tokens, contract.temperature) == (
        False, None, 8, 0.0)
    # Had its training conversations shared a system prompt, evaluation would have asked with it.
    monkeypatch.setattr(RunFolder, "_train_records", lambda self: [record(SYSTEM)] * 4)
    assert folder.inference_contract().system_prompt == SYSTEM


def test_an_old_run_is_served_with_its_evaluation_defaults(old_project):
    from fastapi.testclient import TestClient

    from tunesmith.serve import build_server

    server = build_server(["latest"], project=None)
    with TestClient(server.app) as client:
        reply = client.post("/v1/chat/completions", json={
            "model": "20261206-152322-lora", "messages": [{"role": "user", "content": "What colour is parcel 3?"}]})
    assert reply.status_code == 200, reply.text
    assert reply.json()["usage"]["completion_tokens"] <= 8  # evaluation's answer length, not the server's 256
