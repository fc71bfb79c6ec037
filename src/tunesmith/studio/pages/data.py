"""Data: upload files, see their format and problems (with line numbers), prepare a dataset version."""

from __future__ import annotations

import shutil
from pathlib import Path

import gradio as gr

from tunesmith.config.data import SourceConfig
from tunesmith.studio import controls
from tunesmith.studio.context import StudioContext, api, reports_errors
from tunesmith.studio.data_view import ISSUE_HEADERS, check_sources, manifest_markdown, preview_pieces, report_frame

SOURCES_FOLDER = "sources"


def add_files(ctx: StudioContext, uploaded: list[str]) -> list[str]:
    """Copy uploads into <project>/sources/ and list them in tunesmith.yaml; returns their project paths."""
    project = ctx.project()
    folder = project.root / SOURCES_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    known = {source.path for source in project.config.data.sources}
    added = []
    for upload in uploaded:
        target = folder / Path(upload).name
        shutil.copyfile(upload, target)
        relative = f"{SOURCES_FOLDER}/{target.name}"
        if relative not in known:
            project.config.data.sources.append(SourceConfig(path=relative))
            known.add(relative)
        added.append(relative)
    project.save()
    return added


def check_all(ctx: StudioContext) -> tuple[str, list[list]]:
    result = check_sources(ctx.project())
    head = (f"**{result.errors} problem(s) found**: those rows are left out unless you fix them."
            if result.errors else "**No problems found.**")
    return f"{head}\n\n{result.summary}", result.issues


def build(ctx: StudioContext, demo: gr.Blocks, tab: gr.Tab) -> None:
    gr.Markdown("### Your examples\nUpload JSONL, JSON, CSV, TSV, Parquet or text files. The studio detects the "
                "format, shows every problem with its line number, then prepares a clean dataset version.")
    upload = controls.with_caption(
        gr.File(label="Data files", file_count="multiple", type="filepath", elem_id="data-files"),
        "Drop one or more files with your examples (they are copied into the project's sources/ folder).")
    add = controls.button("Add files and check them", "Copies the files into the project, lists them in "
                          "tunesmith.yaml and checks every line.", variant="primary")
    check = controls.button("Check again", "Re-reads every data file listed in tunesmith.yaml.")
    status = controls.status_box()
    issues = controls.with_caption(
        gr.Dataframe(headers=ISSUE_HEADERS, label="Problems by line", interactive=False, wrap=True,
                     column_widths=["18%", "7%", "12%", "28%", "27%", "8%"],
                     elem_id="data-issues"),
        "Each problem names the file and line, what is wrong, and what to do about it.")
    prepare = controls.button("Prepare dataset", "Cleans, removes duplicates, splits into train/validation/test "
                              "and saves a new dataset version under data/.", variant="primary")
    summary = gr.Markdown("")
    report = controls.with_caption(gr.HTML(label="Quality report"), "Lengths, duplicates, labels and other checks "
                                   "of the prepared dataset.")
    preview = controls.with_caption(
        gr.HighlightedText(label="Preview: highlighted text is what the model learns to write",
                           color_map={"learned": "green"}, combine_adjacent=True, elem_id="data-preview"),
        "A few prepared training examples; the model is trained only on the highlighted parts.")

    @reports_errors(2)
    def on_add(files):
        if not files:
            return "Choose at least one file first.", gr.skip()
        added = add_files(ctx, files)
        head, rows = check_all(ctx)
        return f"Added {', '.join(added)}.\n\n{head}", rows

    @reports_errors(2)
    def on_check():
        return check_all(ctx)

    @reports_errors(4)
    def on_prepare():
        project = ctx.project()
        dataset = api("data", "prepare")(project)
        return (f"Prepared dataset version **{dataset.version}**. Next: pick a model on **Model & settings**.",
                manifest_markdown(dataset), report_frame(dataset.path / "report.html", "Data quality report"),
                preview_pieces(project, dataset))

    add.click(on_add, upload, [status, issues])
    check.click(on_check, None, [status, issues])
    prepare.click(on_prepare, None, [status, summary, report, preview])
