"""`export(run_dir, format)`: write a deployable artifact, then prove it answers like the trained model.

Formats: "hf" (merged Hugging Face folder), "gguf" (model.gguf + Ollama Modelfile) and "adapter" (the
PEFT adapter alone). Each carries the run's inference contract (`deploy/package.py`): a chat template that
adds the trained system prompt, generation defaults, the Modelfile's SYSTEM, the model card. Every export ends
with the parity check, through the real path: held-out prompts are sent to the export as a client sends them
(without the contract's system prompt, which the export must add itself) and answered by the training-time
model as evaluation asked it; below the threshold the export fails, with parity.json beside the artifact and
the first divergent example in the error.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from tunesmith.config.serve import ExportConfig
from tunesmith.deploy import parity
from tunesmith.deploy.agreement import targets_of, transformers_scorer
from tunesmith.deploy.gguf_writer import QUANTIZED_TYPES
from tunesmith.deploy.merge import merged_model, save_hf
from tunesmith.deploy.package import finish, save_tokenizer
from tunesmith.errors import TunesmithError
from tunesmith.progress import status
from tunesmith.runs import RunFolder

FORMATS = ("hf", "adapter", "gguf", "onnx")  # onnx: embedding runs only
META_FILE = "export.json"


@dataclass
class ExportResult:
    path: Path
    format: str
    parity: dict


def default_folder(run_dir: Path, name: str) -> Path:
    """<project>/exports/<name> for a run in a project, else <run>/exports/<name>."""
    from tunesmith.project import EXPORTS_DIR

    folder = RunFolder(Path(run_dir).resolve())
    return (folder.project_root or folder.path) / EXPORTS_DIR / name


def _settings(run, override: ExportConfig | None) -> ExportConfig:
    return override or run.config.serve.export


def export(run_dir: str | Path, format: str = "hf", name: str | None = None, folder: str | Path | None = None,
           settings: ExportConfig | None = None, prompts: list[list[dict]] | None = None) -> ExportResult:
    """Export a finished run and check parity; raises TunesmithError if parity is below the threshold."""
    from tunesmith.train import load_run

    if format not in FORMATS:
        raise TunesmithError(f"unknown export format '{format}'", f"Choose one of: {', '.join(FORMATS)}.")
    run_dir = Path(run_dir)
    info = RunFolder(run_dir).require_finished("export")  # before the spinner: one line, no model loading
    if format == "onnx" and info.task != "embedding":
        raise TunesmithError(f"--format onnx is for embedding runs; this run is a {info.task} run.",
                             "Export it with --format hf, adapter or gguf.")
    with status(f"Loading run {run_dir.name}"):
        run = load_run(run_dir, merge=False, action="export")
    settings = _settings(run, settings)
    suffix = f"gguf-{settings.gguf_type}" if format == "gguf" else format
    folder = Path(folder) if folder else default_folder(run_dir, name or f"{run_dir.name}-{suffix}")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if run.task == "classification":
        from tunesmith.deploy.classifier import export_classifier

        report = export_classifier(run, format, folder, settings)
    elif run.task == "embedding":  # a sentence-transformers folder (embeddings/api.py)
        from tunesmith.embeddings.api import export_embedding

        report = export_embedding(run, format, folder, settings)
    else:
        report = _export_lm(run, format, folder, settings, prompts)
    meta = {"run_dir": str(run_dir.resolve()), "format": format, "task": run.task,
            "method": run.info.method, "base_model": run.info.base_model,
            "gguf_type": settings.gguf_type if format == "gguf" else None,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (folder / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    report = {"format": format, "artifact": str(folder), **report}
    parity.write_report(folder, report)
    if not report["passed"]:
        measured = (f"{report['next_token_agreement']:.1%} next-token agreement"
                    if report.get("gate") == "next_token_agreement" else f"{report['exact_match_rate']:.0%} of answers")
        raise TunesmithError(
            f"parity check failed for {folder}: {measured} and {report['prompt_token_match_rate']:.0%} of prompts "
            f"match (threshold {report['threshold']:.0%}); {parity.divergence_line(report)}.",
            f"See {folder / 'parity.json'}; a changed chat template or end-of-turn token is the usual cause.")
    return ExportResult(folder, format, report)


def _export_lm(run, format: str, folder: Path, settings: ExportConfig, prompts, write: bool = True) -> dict:
    source = "given"
    if prompts is None:
        prompts, source = parity.golden_prompts(run.folder.dataset_dir, settings.parity_prompts)
    contract = run.folder.inference_contract()
    asked = [contract.client_messages(p) for p in prompts]  # what a client of the export sends
    steps = settings.parity_max_new_tokens
    with status(f"Answering {len(prompts)} held-out prompts with the training-time model"):
        reference = parity.engine_runtime(run.model, run.tokenizer, steps)(
            [contract.conversation(p) for p in prompts])
    if format == "adapter":
        if write:
            _write_adapter(run, folder, contract)
        runtime, scorer, label = _adapter_runtime(run, folder, steps)
    elif format == "hf":
        if write:
            with status(f"Writing merged model to {folder}"):
                save_hf(merged_model(run), run.tokenizer, folder, contract)
        runtime, scorer, label = _reload_hf(folder, steps)
    else:
        if write:
            _write_gguf(merged_model(run), run, folder, settings, prompts, contract)
        runtime, scorer, label = _gguf_runtime(run, folder, settings)
    if write:
        finish(run, folder, format)
    with status(f"Replaying the prompts through the export ({label}), as a client sends them"):
        candidate = runtime(asked)
    with status("Scoring the reference answers through the export (teacher-forced)"):
        predicted = scorer([(cand.prompt_ids, targets_of(ref)) for ref, cand in zip(reference, candidate, strict=True)])
    # Quantized weights flip near-tied tokens, so their bar is per-token agreement; floats must match exactly.
    quantized = format == "gguf" and settings.gguf_type in QUANTIZED_TYPES
    threshold = settings.quantized_parity_threshold if quantized else settings.parity_threshold
    gate = "next_token_agreement" if quantized else "exact_match_rate"
    report = parity.compare(asked, reference, candidate, threshold, predicted=predicted, gate=gate)
    return {"runtime": label, "reference": f"training-time model of run {run.run_dir.name} (adapter unmerged)",
            "prompt_source": source, "max_new_tokens": steps, "system_prompt": contract.system_prompt, **report}


def _reload_hf(folder: Path, steps: int):
    from tunesmith.models.loading import load_causal_lm

    model = load_causal_lm(folder).eval()
    return (parity.transformers_runtime(model, parity.folder_tokenizer(folder), steps), transformers_scorer(model),
            "transformers (reloaded from the export folder)")


def _write_adapter(run, folder: Path, contract) -> None:
    adapter = run.folder.artifact_dir
    if adapter is None or not (adapter / "adapter_config.json").exists():
        raise TunesmithError(f"run {run.run_dir.name} has no PEFT adapter ({run.info.method} run).",
                             "Export it with --format hf.")
    for item in adapter.iterdir():
        if item.is_file():
            shutil.copy2(item, folder / item.name)
    save_tokenizer(run.tokenizer, folder, contract)


def _adapter_runtime(run, folder: Path, steps: int):
    from peft import PeftModel

    from tunesmith.models.loading import load_causal_lm

    base = run.info.base_model_path or run.info.base_model
    model = PeftModel.from_pretrained(load_causal_lm(base), str(folder)).eval()
    label = "transformers + PEFT (fresh base + exported adapter)"
    return parity.transformers_runtime(model, parity.folder_tokenizer(folder), steps), transformers_scorer(model), label


def _write_gguf(merged, run, folder: Path, settings: ExportConfig, prompts, contract) -> None:
    from tunesmith.deploy import modelfile
    from tunesmith.deploy.gguf_writer import write_gguf

    path = folder / "model.gguf"
    template = contract.exported_template(run.tokenizer.chat_template)
    with status(f"Writing {path.name} ({settings.gguf_type})"):
        write_gguf(merged, run.tokenizer, path, settings.gguf_type, name=run.run_dir.name, chat_template=template,
                   contract=contract)
    # The HF tokenizer files beside the GGUF let `tunesmith serve` (llamacpp backend) validate prompts.
    save_tokenizer(run.tokenizer, folder, contract)
    parts = modelfile.template_parts(run.tokenizer)
    for prompt in prompts:  # Ollama puts SYSTEM first when a conversation brings no system message
        ollama = contract.conversation(contract.client_messages(prompt))
        if modelfile.render_parts(parts, ollama) != parity.render(run.tokenizer, contract.conversation(prompt)):
            raise TunesmithError("the Ollama template derived from the chat template renders a held-out prompt "
                                 "differently.", "Edit the Modelfile TEMPLATE by hand, or serve the GGUF with "
                                 "llama.cpp, which reads the template from the file.")
    from tunesmith.models.loading import end_of_turn_ids

    eos = end_of_turn_ids(run.tokenizer, getattr(merged, "generation_config", None))
    stops = [*modelfile.stop_tokens(run.tokenizer, eos), *contract.stop]
    (folder / "Modelfile").write_text(modelfile.modelfile(path.name, parts, stops,
                                                          merged.config.max_position_embeddings, contract))


def _gguf_runtime(run, folder: Path, settings: ExportConfig):
    from tunesmith.deploy import gguf_runtime

    path = folder / "model.gguf"
    kind = gguf_runtime.pick_runtime(settings.gguf_runtime)
    steps = settings.parity_max_new_tokens
    if kind == "llama-cpp":
        return (gguf_runtime.llama_cpp_runtime(path, run.tokenizer, steps), gguf_runtime.llama_cpp_scorer(path),
                "llama-cpp-python")
    return *gguf_runtime.transformers_gguf_runtime(path, steps), "transformers (GGUF loaded with gguf_file=)"


def check(export_dir: str | Path, settings: ExportConfig | None = None) -> dict:
    """Re-run the parity check of an existing export (on demand); rewrites its parity.json."""
    from tunesmith.train import load_run

    export_dir = Path(export_dir)
    meta_path = export_dir / META_FILE
    if not meta_path.exists():
        raise TunesmithError(f"{export_dir} is not a tunesmith export (no {META_FILE}).",
                             "Pass a folder under exports/ written by `tunesmith export`.")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    run = load_run(meta["run_dir"], merge=False, action="check")
    settings = settings or run.config.serve.export
    if meta.get("gguf_type"):
        settings = settings.model_copy(update={"gguf_type": meta["gguf_type"]})
    if run.task in ("classification", "embedding"):  # their exports check parity as they are written
        raise TunesmithError(f"on-demand parity for {run.task} exports is not supported; export again.",
                             f"tunesmith export {meta['run_dir']} --format {meta['format']}")
    report = {"format": meta["format"], "artifact": str(export_dir),
              **_export_lm(run, meta["format"], export_dir, settings, None, write=False)}
    parity.write_report(export_dir, report)
    return report
