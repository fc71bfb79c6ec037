"""Export of classifier runs: the merged model (or adapter) and a parity check on predicted labels."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from tunesmith.config.serve import ExportConfig
from tunesmith.deploy import parity
from tunesmith.deploy.merge import merged_model, save_hf
from tunesmith.errors import TunesmithError


def held_out_texts(run, limit: int) -> tuple[list[str], str]:
    folder = run.folder.dataset_dir
    if folder is not None:
        from tunesmith.data import load_prepared

        dataset = load_prepared(folder)
        for split in ("test", "validation"):
            try:
                texts = [r["text"] for r in dataset.split(split) if r.get("text")]
            except Exception:  # a dataset without this split
                continue
            if texts:
                return texts[:limit], f"{folder.name}/{split}"
    return [p[0]["content"] for p in parity.builtin_prompts(limit)], "built-in prompts"


@torch.inference_mode()
def _labels(model, tokenizer, texts: list[str], labels: list[str]) -> list[parity.Answer]:
    answers = []
    for text in texts:
        enc = tokenizer(text, return_tensors="pt", truncation=True, max_length=512)
        best = int(model(**enc).logits[0].argmax())
        answers.append(parity.Answer(enc["input_ids"][0].tolist(), labels[best] if best < len(labels) else str(best)))
    return answers


def export_classifier(run, format: str, folder: Path, settings: ExportConfig) -> dict:
    from transformers import AutoModelForSequenceClassification

    from tunesmith.models.loading import load_classifier

    if format == "gguf":
        raise TunesmithError("GGUF export is for generative models; this run is a classifier.",
                             "Export it with --format hf (or adapter).")
    from tunesmith.embeddings.fewshot import RECIPE_KEY

    recipe = run.info.raw.get(RECIPE_KEY)
    head_recipe = recipe in ("embedding", "pooled")  # an encoder + a head on its pooled embedding
    if head_recipe and format != "hf":
        raise TunesmithError(f"--format {format}: a {recipe}-recipe classifier (an encoder + a head on its pooled "
                             "embedding) exports as one sentence-transformers folder.", "Export it with --format hf.")
    labels = list(run.labels or [])
    texts, source = held_out_texts(run, settings.parity_prompts)
    reference = _labels(run.model, run.tokenizer, texts, labels)
    if head_recipe:
        from tunesmith.embeddings.classifier_export import export_head_classifier

        candidate = export_head_classifier(run, folder, texts, _labels)
        label = "sentence-transformers folder with the head as its Dense module (reloaded from the export folder)"
    elif format == "hf":
        save_hf(merged_model(run), run.tokenizer, folder, run.folder.inference_contract())
        candidate_model = AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True).eval()
        candidate = _labels(candidate_model, parity.folder_tokenizer(folder), texts, labels)
        label = "transformers (reloaded from the export folder)"
    else:
        adapter = run.folder.artifact_dir
        if adapter is None or not (adapter / "adapter_config.json").exists():
            raise TunesmithError(f"run {run.run_dir.name} has no PEFT adapter.", "Export it with --format hf.")
        for item in adapter.iterdir():
            if item.is_file():
                shutil.copy2(item, folder / item.name)
        run.tokenizer.save_pretrained(folder)
        from peft import PeftModel

        base = load_classifier(run.info.base_model_path or run.info.base_model, labels)
        candidate_model = PeftModel.from_pretrained(base, str(folder)).eval()
        candidate = _labels(candidate_model, parity.folder_tokenizer(folder), texts, labels)
        label = "transformers + PEFT (fresh base + exported adapter)"
    from tunesmith.deploy.package import finish

    finish(run, folder, format)
    prompts = [[{"role": "user", "content": t}] for t in texts]
    report = parity.compare(prompts, reference, candidate, settings.parity_threshold)
    return {"runtime": label, "reference": f"training-time model of run {run.run_dir.name}",
            "prompt_source": source, "compared": "predicted labels", **report}
