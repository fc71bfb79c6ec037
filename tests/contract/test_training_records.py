"""Training records the contract (run.json "inference", one line on the console) and trains with it; evaluation
asks the run the way serving will."""

from __future__ import annotations

from contract_helpers import SYSTEM, make_project, parcel_records, project_config


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


def test_the_data_report_says_when_every_training_conversation_shares_a_prompt(system_project, tmp_path):
    """The prepare report (console and report.html) announces the prompt runs will record; mixed data: nothing."""
    import io
    import json

    from rich.console import Console

    from tunesmith.data import prepare
    from tunesmith.data.summary import print_summary
    from tunesmith.project import Project

    _, dataset, _ = system_project
    assert dataset.manifest["shared_system_prompt"] == SYSTEM
    out = io.StringIO()
    print_summary(dataset, Console(file=out, width=400))
    assert f"every training conversation starts with the system prompt {SYSTEM!r}" in out.getvalue()
    assert "every training conversation starts with the system prompt" in dataset.report_path.read_text()

    mixed = parcel_records(20) + parcel_records(20, start=20, system=None)
    root = tmp_path / "mixed"
    (root / "sources").mkdir(parents=True)
    (root / "sources" / "parcels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in mixed))
    other = prepare(Project.create(root, project_config(system_project[0].config.model.name)))
    assert other.manifest["shared_system_prompt"] is None
    out = io.StringIO()
    print_summary(other, Console(file=out, width=400))
    assert "system prompt" not in out.getvalue()
