"""Every export carries the contract: a chat template that adds the trained system prompt, generation defaults,
inference.json, the Modelfile's SYSTEM and PARAMETERs, GGUF metadata, the model card; files readable like any the
user writes. Parity asks the export as a client does, so an export that loses the prompt fails."""

from __future__ import annotations

import json
import os
import stat

import pytest
from contract_helpers import SYSTEM

from tunesmith.errors import TunesmithError

USER = [{"role": "user", "content": "What colour is parcel 5?"}]


def test_hf_export_adds_the_prompt_and_the_generation_defaults(system_project, tmp_path):
    from huggingface_hub import ModelCard
    from transformers import AutoTokenizer, GenerationConfig

    from tunesmith.deploy import export
    from tunesmith.runs import CONTRACT_FILE, InferenceContract, rendered_prompt

    _, _, folder = system_project
    contract = folder.inference_contract()
    previous = os.umask(0o027)
    try:
        result = export(folder.path, "hf", folder=tmp_path / "hf")
    finally:
        os.umask(previous)
    assert result.parity["passed"] and result.parity["system_prompt"] == SYSTEM
    assert all(case["prompt_tokens_match"] for case in result.parity["cases"])
    tokenizer = AutoTokenizer.from_pretrained(result.path)  # as a user loads it: no tunesmith involved
    trained = AutoTokenizer.from_pretrained(folder.tokenizer_dir)
    assert tokenizer.apply_chat_template(USER, tokenize=False, add_generation_prompt=True) == \
        rendered_prompt(trained, contract, USER)
    assert SYSTEM in tokenizer.apply_chat_template(USER, tokenize=False)
    own = [{"role": "system", "content": "Reply in French."}, *USER]
    assert SYSTEM not in tokenizer.apply_chat_template(own, tokenize=False)
    generation = GenerationConfig.from_pretrained(result.path)
    assert (generation.max_new_tokens, generation.do_sample) == (contract.max_new_tokens, False)
    assert InferenceContract.from_json(json.loads((result.path / CONTRACT_FILE).read_text())) == contract
    card = ModelCard.load(result.path / "README.md")
    assert card.data.library_name == "transformers" and "tunesmith" in card.data.tags
    assert str(tmp_path) not in card.text and str(folder.path) not in card.content  # relative links only
    weights = result.path / "model.safetensors"
    assert stat.S_IMODE(weights.stat().st_mode) == 0o640  # 0666 less the umask, not the writer's private 0600
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o750


def test_adapter_export_carries_the_template_card_and_portable_config(system_project, tmp_path):
    from huggingface_hub import ModelCard
    from transformers import AutoTokenizer

    from tunesmith.deploy import export

    _, _, folder = system_project
    result = export(folder.path, "adapter", folder=tmp_path / "adapter")
    assert result.parity["passed"]
    assert SYSTEM in AutoTokenizer.from_pretrained(result.path).apply_chat_template(USER, tokenize=False)
    card = ModelCard.load(result.path / "README.md")
    assert card.data.library_name == "peft" and "PeftModel.from_pretrained(base, '.')" in card.text
    assert stat.S_IMODE((result.path / "adapter_model.safetensors").stat().st_mode) & 0o044  # readable by others


def test_gguf_export_modelfile_and_metadata_carry_the_prompt(system_project, tmp_path):
    import gguf
    from huggingface_hub import ModelCard
    from transformers import AutoTokenizer

    from tunesmith.deploy import export
    from tunesmith.deploy.gguf_writer import INFERENCE_KEY, SYSTEM_PROMPT_KEY
    from tunesmith.deploy.modelfile import directives

    _, _, folder = system_project
    contract = folder.inference_contract()
    result = export(folder.path, "gguf", folder=tmp_path / "gguf")
    assert result.parity["passed"] and result.parity["prompt_token_match_rate"] == 1.0
    modelfile = directives((result.path / "Modelfile").read_text())
    assert modelfile["SYSTEM"] == [SYSTEM]
    assert {"temperature 0", f"num_predict {contract.max_new_tokens}"} <= set(modelfile["PARAMETER"])
    card = ModelCard.load(result.path / "README.md")  # the same Hugging Face card as every export
    assert card.data.library_name == "gguf" and str(folder.path) not in card.content
    fields = gguf.GGUFReader(result.path / "model.gguf").fields

    def text(key: str) -> str:
        return bytes(fields[key].parts[fields[key].data[0]]).decode()

    assert text(SYSTEM_PROMPT_KEY) == SYSTEM and json.loads(text(INFERENCE_KEY))["system_prompt"] == SYSTEM
    rendered = AutoTokenizer.from_pretrained(folder.tokenizer_dir).apply_chat_template(
        USER, tokenize=False, add_generation_prompt=True, chat_template=text("tokenizer.chat_template"))
    assert rendered.startswith(f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user")


def test_an_export_that_loses_the_prompt_fails_parity_with_the_first_divergent_example(system_project, tmp_path,
                                                                                       monkeypatch):
    from tunesmith.deploy import export
    from tunesmith.runs import InferenceContract

    _, _, folder = system_project
    monkeypatch.setattr(InferenceContract, "exported_template", lambda self, template: template)  # the old export
    with pytest.raises(TunesmithError, match="first divergent example, prompt 0 'What colour is parcel") as info:
        export(folder.path, "hf", folder=tmp_path / "hf")
    assert "renders differently" in str(info.value)
    report = json.loads((tmp_path / "hf" / "parity.json").read_text())
    assert report["prompt_token_match_rate"] == 0.0 and not report["passed"]


def test_a_modelfile_quotes_a_stop_string_and_refuses_an_unquotable_prompt():
    from tunesmith.deploy.modelfile import TemplateParts, directives, modelfile
    from tunesmith.runs import InferenceContract

    parts = TemplateParts("", {"system": "S:", "user": "U:", "assistant": "A:"}, "\n")
    contract = InferenceContract("Be brief.\nOk.", "config")
    text = modelfile("model.gguf", parts, ['<|im_end|>', 'say "bye"'], 512, contract)
    found = directives(text)
    assert found["SYSTEM"] == ["Be brief.\nOk."] and 'stop "say \\"bye\\""' in found["PARAMETER"]
    with pytest.raises(TunesmithError, match='cannot quote'):
        modelfile("model.gguf", parts, [], 512, InferenceContract('Say """hi"""', "config"))
