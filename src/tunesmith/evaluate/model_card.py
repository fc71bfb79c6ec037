"""The model card: one Hugging Face model card per run, written by training, completed by evaluation, copied into
adapter/ and every export.

The card is `README.md` with YAML front matter (`base_model` as the Hub id when the base is a bundled model,
`library_name`, `pipeline_tag`, `tags`, `datasets`, `model-index` with the evaluation results) that
`huggingface_hub.ModelCard.load` parses. Its links are relative, so the folder can move. Two blocks are
tunesmith's and get replaced, the rest is the user's to edit: the evaluation section (`evaluate/card.py`) and
the "Use" block, which says how to load the folder the card is in. Overfitting is judged by one function,
`evaluate.diagnostics.overfitting_verdict`, for the card and the evaluation report alike.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tunesmith.runs import CONFIG_FILE, RUN_FILE, RunFolder, RunInfo

LIBRARY = {"run-adapter": "peft", "adapter": "peft", "hf": "transformers", "gguf": "gguf"}
USE_START, USE_END = "<!-- tunesmith:use:start -->", "<!-- tunesmith:use:end -->"
_LINK = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:|/|#)([^)\s]+)\)")  # a relative Markdown link target


def base_hub_id(info: RunInfo) -> str | None:
    from tunesmith.models.catalog import hub_id

    return hub_id(info.base_model or "") if info.base_model else None


def dataset_id(info: RunInfo) -> str | None:
    """The run's dataset as the card names it: project/version (a local dataset, not a Hub id)."""
    if not info.dataset_version:
        return None
    return f"{info.project or 'tunesmith'}/{info.dataset_version}"


def card_data(info: RunInfo, library: str | None, eval_results=None):
    """The front matter (huggingface_hub.ModelCardData)."""
    from huggingface_hub import ModelCardData

    pipeline = "text-classification" if info.task == "classification" else "text-generation"
    tags = ["tunesmith", *(t for t in (info.method, info.task) if t)]
    if library == "gguf":
        tags.append("gguf")
    dataset = dataset_id(info)
    return ModelCardData(base_model=base_hub_id(info), library_name=library, pipeline_tag=pipeline,
                         tags=list(dict.fromkeys(tags)), datasets=[dataset] if dataset else None,
                         eval_results=eval_results or None)


def _front(data) -> str:
    return f"---\n{data.to_yaml()}\n---\n"


def _contract_lines(folder: RunFolder, info: RunInfo) -> list[str]:
    contract = folder.inference_contract()
    lines = ["## How to prompt it", "",
             "Trained and evaluated with this inference contract; tunesmith's deployments (serve, the studio, "
             "the fine-tuning API, every export) apply it to any request that does not set it itself.", ""]
    if contract.system_prompt is not None:
        source = {"config": "set by objective.system_prompt",
                  "data": "shared by every training conversation"}.get(contract.system_prompt_source, "")
        lines += [f"- System prompt ({source}), added when a conversation brings none:", "",
                  *[f"  > {line}" for line in contract.system_prompt.splitlines() or [""]], ""]
    elif info.task == "chat":
        lines.append("- System prompt: none added (the chat template's own default applies).")
    if info.task == "chat":
        tokens = f"up to {contract.max_new_tokens} new tokens" if contract.max_new_tokens else "new tokens"
        mode = "greedy" if contract.temperature == 0 else f"temperature {contract.temperature:g}"
        stops = f", stop at {', '.join(map(repr, contract.stop))}" if contract.stop else ""
        lines.append(f"- Generation: {tokens}, {mode}{stops}.")
    if contract.labels:
        lines.append(f"- Labels: {', '.join(contract.labels)}")
    return [*lines, ""]


def _metric_table(info: RunInfo) -> list[str]:
    rows = [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in info.metrics.items()]
    return ["| metric | value |", "|---|---|", *rows] if rows else []


def training_card(folder: RunFolder) -> str:
    """The card for a run folder as training leaves it (no evaluation yet)."""
    from tunesmith.evaluate.diagnostics import overfitting_verdict, read_loss_curve

    info = folder.info()
    hub = base_hub_id(info)
    base = f"`{hub}` (tunesmith catalog: `{info.base_model}`)" if hub else f"`{info.base_model}`"
    params = (f" ({info.trainable_params:,} of {info.total_params:,} parameters trained)"
              if info.trainable_params and info.total_params else "")
    lines = [f"# {info.project or 'tunesmith'} · {info.method} fine-tune of {hub or info.base_model}", "",
             f"- Task: {info.task}", f"- Method: {info.method}{params}", f"- Base model: {base}",
             f"- Training data: dataset version {info.dataset_version or 'unversioned'} "
             f"({info.train_examples or '?'} training / {info.validation_examples or '?'} validation examples)",
             f"- Status: {info.status} after {info.steps or 0} optimizer steps ({info.seconds or 0:.0f} s)", ""]
    if info.labels:
        lines += [f"Labels: {', '.join(info.labels)}", ""]
    lines += _contract_lines(folder, info)
    lines += ["## Training", "", *_metric_table(info), "",
              f"Overfitting check: {overfitting_verdict(read_loss_curve(folder.path))}", "",
              f"Files: [{CONFIG_FILE}]({CONFIG_FILE}) is the exact configuration, [{RUN_FILE}]({RUN_FILE}) the "
              "training record (warnings included).", "", use_block(info, "run"), ""]
    return _front(card_data(info, LIBRARY["adapter"] if info.artifact == "adapter" else "transformers")) + \
        "\n".join(lines)


def use_block(info: RunInfo, kind: str) -> str:
    """How to load the folder the card is in: a run folder ("run"), its adapter/ ("run-adapter"), or an
    "adapter", "hf" or "gguf" export."""
    hub = base_hub_id(info)
    base = repr(hub or info.base_model)
    auto = "AutoModelForSequenceClassification" if info.task == "classification" else "AutoModelForCausalLM"
    load_base = (f"base = {auto}.from_pretrained({base})  # or tunesmith.models.loading.load_causal_lm({base}), "
                 "which uses tunesmith's local copy")
    if kind == "run":
        text = ("```python\nfrom tunesmith.train import load_run\n\nrun = load_run('.')  # this run folder; "
                "run.info.inference is the contract above\n```\n\nFor plain transformers, PEFT, llama.cpp or Ollama, "
                "export it (`tunesmith export RUN --format hf|adapter|gguf`): an export's chat template adds the "
                "system prompt itself.")
    elif kind == "run-adapter":
        text = (f"```python\nfrom peft import PeftModel\nfrom transformers import AutoTokenizer, {auto}\n\n"
                f"{load_base}\nmodel = PeftModel.from_pretrained(base, '.')  # this folder\n"
                "tokenizer = AutoTokenizer.from_pretrained('../tokenizer')\n```\n\nThis tokenizer's chat template "
                "is the base model's: send the system prompt above yourself (an adapter export's template adds it).")
    elif kind == "adapter":
        text = (f"```python\nfrom peft import PeftModel\nfrom transformers import AutoTokenizer, {auto}\n\n"
                f"{load_base}\nmodel = PeftModel.from_pretrained(base, '.')  # this folder\n"
                "tokenizer = AutoTokenizer.from_pretrained('.')  # its chat template adds the trained system prompt "
                "when the messages bring none\n```")
    elif kind == "hf":
        text = (f"```python\nfrom transformers import AutoTokenizer, {auto}\n\nmodel = {auto}.from_pretrained('.')"
                "  # this folder; generation_config.json holds the generation defaults\ntokenizer = AutoTokenizer."
                "from_pretrained('.')  # its chat template adds the trained system prompt when the messages bring "
                "none\n```")
    else:
        text = ("```bash\nollama create my-model -f Modelfile  # SYSTEM, TEMPLATE and PARAMETERs from the contract\n"
                "llama-cli -m model.gguf -cnv               # the file's chat template adds the system prompt\n```")
    return f"{USE_START}\n## Use\n\n{text}\n{USE_END}"


def _replace_block(text: str, start: str, end: str, block: str) -> str:
    if start in text and end in text:
        head, rest = text.split(start, 1)
        return head + block + rest.split(end, 1)[1]
    return text.rstrip("\n") + "\n\n" + block + "\n"


def rebase_links(text: str, source: Path, target: Path) -> str:
    """Relative links written for a card in `source`, rewritten for a copy of it in `target`."""
    def moved(match: re.Match) -> str:
        link = os.path.relpath(Path(source).resolve() / match.group(1), Path(target).resolve())
        return f"]({Path(link).as_posix()})"

    return _LINK.sub(moved, text)


def placed(text: str, folder: RunFolder, target: Path, kind: str) -> str:
    """The run's card for a copy in `target` (adapter/ or an export): its library, links and Use block."""
    from huggingface_hub import ModelCard

    info = folder.info()
    card = ModelCard(text, ignore_metadata_errors=True)
    card.data.library_name = LIBRARY.get(kind) or card.data.library_name
    if kind == "gguf":
        card.data.tags = list(dict.fromkeys([*(card.data.tags or []), "gguf"]))
    body = _replace_block(rebase_links(card.text, folder.path, target), USE_START, USE_END, use_block(info, kind))
    return _front(card.data) + body.lstrip("\n")


def with_results(text: str, info: RunInfo, run_name: str, results) -> str:
    """`text` with the model-index of its front matter set to `results` (huggingface_hub EvalResults)."""
    from huggingface_hub import ModelCard

    card = ModelCard(text if text.startswith("---") else _front(card_data(info, None)) + text,
                     ignore_metadata_errors=True)
    card.data.eval_results = list(results) or None
    card.data.model_name = run_name if results else None
    return _front(card.data) + card.text.lstrip("\n")


def write_run_cards(folder: RunFolder, text: str | None = None) -> list[Path]:
    """README.md in the run folder (the training card unless `text` is given) and its copy in adapter/ or model/."""
    text = text if text is not None else training_card(folder)
    folder.card_file.write_text(text, encoding="utf-8")
    written = [folder.card_file]
    artifact = folder.artifact_dir
    if artifact is not None and artifact.is_dir():
        kind = "run-adapter" if (artifact / "adapter_config.json").exists() else "hf"
        copy = artifact / folder.card_file.name
        copy.write_text(placed(text, folder, artifact, kind), encoding="utf-8")
        written.append(copy)
    return written


def export_card(folder: RunFolder, target: Path, kind: str) -> Path:
    """The run's card in an export folder (the training card when the run has none)."""
    text = folder.card_file.read_text(encoding="utf-8") if folder.card_file.exists() else training_card(folder)
    if not text.startswith("---"):  # a card written before cards had front matter
        text = _front(card_data(folder.info(), None)) + text
    path = Path(target) / folder.card_file.name
    path.write_text(placed(text, folder, Path(target), kind), encoding="utf-8")
    return path
