"""`tunesmith export`: a deployable artifact of a run, checked for parity with the trained model."""

from __future__ import annotations

from pathlib import Path

import typer

from tunesmith.cli import app
from tunesmith.cli.options import project_option


def _settings(run_dir: Path, gguf_type: str | None, threshold: float | None):
    from tunesmith.config.serve import ExportConfig
    from tunesmith.runs import RunFolder

    folder = RunFolder(run_dir)
    settings = folder.config().serve.export if folder.config_file.exists() else ExportConfig()
    updates = {k: v for k, v in (("gguf_type", gguf_type), ("parity_threshold", threshold),
                                 ("quantized_parity_threshold", threshold)) if v is not None}
    return settings.model_validate({**settings.model_dump(), **updates}) if updates else settings


def _summary(report: dict) -> str:
    verdict = "passed" if report["passed"] else "FAILED"
    if report.get("gate") == "embedding_cosine":  # an embedding export: vectors compared, not answers
        return (f"parity {verdict}: {report['exact_match_rate']:.0%} of {report['texts']} held-out texts embed "
                f"alike (least cosine {report['min_cosine']:.6f}; {report['candidate']})")
    agreement = (f", {report['next_token_agreement']:.1%} next-token agreement"
                 if report.get("next_token_agreement") is not None else "")
    gate = " (gate: next-token agreement)" if report.get("gate") == "next_token_agreement" else ""
    return (f"parity {verdict}{gate}: {report['exact_match_rate']:.0%} of {report['prompts']} answers identical"
            f"{agreement}, {report['prompt_token_match_rate']:.0%} of prompts tokenized identically "
            f"({report['runtime']})")


@app.command("export")
def export_command(
    run: str = typer.Argument(..., help="Run to export (its id, a unique part of it, 'latest' or its folder), or "
                              "with --check an export folder."),
    project: Path = project_option("Project whose runs the name is looked up in (default: the current folder, "
                                   "when it is a project).", None),
    format: str = typer.Option("hf", "--format", "-f", help="hf (merged Hugging Face folder), gguf (llama.cpp / "
                               "Ollama, with a Modelfile), adapter (PEFT adapter only) or onnx (embedding runs: the "
                               "sentence-transformers folder with onnx/model.onnx)."),
    name: str = typer.Option(None, help="Folder name under exports/ (default: <run>-<format>)."),
    out: Path = typer.Option(None, help="Write the export to this folder instead."),
    gguf_type: str = typer.Option(None, help="f32, f16, q8_0, q5_0 or q4_0 (default: serve.export.gguf_type)."),
    threshold: float = typer.Option(None, help="Parity bar: least exact-match share (default: "
                                    "serve.export.parity_threshold), or for quantized GGUF least next-token "
                                    "agreement (serve.export.quantized_parity_threshold)."),
    check: bool = typer.Option(False, "--check", help="Re-run the parity check of an existing export folder."),
) -> None:
    """Export a run (merged HF folder, GGUF + Modelfile, or adapter) and prove it answers like the trained model."""
    from tunesmith.deploy import export
    from tunesmith.deploy.export import check as check_export

    if check:
        import json

        folder = Path(run)
        meta = json.loads((folder / "export.json").read_text()) if (folder / "export.json").exists() else {}
        settings = _settings(Path(meta["run_dir"]), gguf_type, threshold) if meta else None
        report = check_export(folder, settings)
        typer.echo(_summary(report))
        if not report["passed"]:
            raise typer.Exit(1)
        return
    from tunesmith.runs import resolve_run

    folder = resolve_run(run, project)
    folder.require_finished("export")
    result = export(folder.path, format, name=name, folder=out, settings=_settings(folder.path, gguf_type, threshold))
    typer.echo(f"Exported {format} to {result.path}")
    typer.echo(_summary(result.parity))
