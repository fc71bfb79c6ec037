"""Training records the contract (run.json "inference", one line on the console) and trains with it; evaluation
asks the run the way serving will."""

from __future__ import annotations

from contract_helpers import SYSTEM, make_project, parcel_records


def test_a_prompt_every_conversation_shares_is_recorded_with_evaluations_settings(system_project):
    project, _, folder = system_project
    info = folder.info()
    contract = info.inference
    assert contract is not None and contract.recorded
    assert (contract.system_prompt, contract.system_prompt_source, contract.max_new_tokens, contract.temperature) == (
        SYSTEM, "data", project.config.evaluation.max_new_tokens, 0.0)
    assert contract.chat_template and "im_start" in contract.chat_template  # the template training rendered with
    assert folder.inference_contract() == contract


def test_the_configured_prompt_is_trained_recorded_and_announced(contract_base, tmp_path, capsys):
    from tunesmith.evaluate.contenders import under_contract
    from tunesmith.evaluate.items import chat_item

    records = parcel_records(20, system=None)
    _, _, folder = make_project(tmp_path / "p", contract_base, records, system_prompt="Answer in one line.")
    contract = folder.info().inference
    assert (contract.system_prompt, contract.system_prompt_source) == ("Answer in one line.", "config")
    printed = capsys.readouterr()
    assert "inference contract: system prompt (objective.system_prompt): 'Answer in one line.'" in \
        printed.out + printed.err
    # Evaluation asks the run with it, as serving will (held-out conversations bring none).
    item = chat_item(records[0])
    assert under_contract(contract)(item)[0] == {"role": "system", "content": "Answer in one line."}


def test_an_empty_setting_records_no_prompt_even_when_the_data_share_one(contract_base, tmp_path):
    _, _, folder = make_project(tmp_path / "p", contract_base, parcel_records(20), system_prompt="")
    contract = folder.info().inference
    assert (contract.system_prompt, contract.system_prompt_source) == (None, "none")


def test_conversations_without_a_prompt_train_with_the_configured_one(contract_base, tmp_path, monkeypatch):
    """What the encoder reads: every training conversation starts with the configured prompt."""
    from tunesmith.train import encode

    seen = []
    real = encode.encode_chat

    def spy(tokenizer, record, *args, **kwargs):
        seen.append(record["messages"][0])
        return real(tokenizer, record, *args, **kwargs)

    monkeypatch.setattr(encode, "encode_chat", spy)
    make_project(tmp_path / "p", contract_base, parcel_records(20, system=None), system_prompt="Be brief.")
    assert seen and all(m == {"role": "system", "content": "Be brief."} for m in seen)
