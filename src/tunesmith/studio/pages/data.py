"""Data: upload files, see their format and problems (with line numbers), prepare a dataset version."""

from __future__ import annotations

import shutil
from pathlib import Path

import gradio as gr

from tunesmith.config.data import SourceConfig
from tunesmith.errors import TunesmithError
from tunesmith.studio import cli_hint, controls
from tunesmith.studio.context import StudioContext, api, error_line, reports_errors
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


EXAMPLE_LINE = {
    "chat": '{"messages": [{"role": "user", "content": "How much is a red frame?"}, '
            '{"role": "assistant", "content": "The red frame costs 20 euros."}]}',
    "classification": '{"text": "My order never arrived", "label": "delivery"}',
    "text": '{"text": "A paragraph of your documents."}',
    "embedding": '{"query": "How long is the warranty?", "positive": "Every frame has a five-year warranty."}',
}


def empty_state(task: str) -> str:
    example = EXAMPLE_LINE.get(task, EXAMPLE_LINE["chat"])
    return ("**No data files yet.** Upload a file with your examples above, then press **Add files and check "
            f"them**. In a JSONL file, each line is one example, for instance:\n\n```json\n{example}\n```")


def check_all(ctx: StudioContext) -> tuple[str, dict]:
    """The check's summary and the problems table (hidden when there is no problem)."""
    result = check_sources(ctx.project())
    head = (f"**{result.errors} problem(s) found**: those rows are left out unless you fix them."
            if result.errors else "**No problems found.**")
    return f"{head}\n\n{result.summary}", gr.update(value=result.issues, visible=bool(result.issues))


def data_commands(ctx: StudioContext) -> str:
    return cli_hint.markdown(cli_hint.command("data validate", ctx.root), cli_hint.command("data prepare", ctx.root))


def prepared_view(ctx: StudioContext, version: str) -> tuple[str, str, list]:
    """Manifest, quality report and preview of a prepared dataset version."""
    project = ctx.project()
    dataset = api("data", "load_prepared")(ctx.root / "data" / version)
    return (manifest_markdown(dataset), report_frame(dataset.path / "report.html", "Data quality report"),
            preview_pieces(project, dataset))


def current_state(ctx: StudioContext) -> list:
    """What the page shows on load: the sources checked, and the newest prepared version if there is one."""
    if not ctx.has_project():
        return ["**No project yet.** Start on the **Objective** page: it creates the project this page adds data "
                "to.", gr.update(visible=False), "", "", gr.update(visible=False)]
    try:
        project = ctx.project()
        if not project.config.data.sources:
            return [empty_state(project.config.objective.task), gr.update(visible=False), "", "",
                    gr.update(visible=False)]
        head, issues = check_all(ctx)
        versions = ctx.dataset_versions()
        if not versions:
            return [f"{head}\n\nNext: press **Prepare dataset**.", issues, "", "", gr.update(visible=False)]
        summary, report, preview = prepared_view(ctx, versions[0])
        return [head, issues, summary, report, gr.update(value=preview, visible=True)]
    except TunesmithError as err:
        return [error_line(err), gr.update(visible=False), "", "", gr.update(visible=False)]


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
                     elem_id="data-issues", visible=False),
        "Each problem names the file and line, what is wrong, and what to do about it.")
    prepare = controls.button("Prepare dataset", "Cleans, removes duplicates, splits into train/validation/test "
                              "and saves a new dataset version under data/.", variant="primary")
    summary = gr.Markdown("")
    report = controls.with_caption(gr.HTML(label="Quality report"), "Lengths, duplicates, labels and other checks "
                                   "of the prepared dataset.")
    preview = controls.with_caption(
        gr.HighlightedText(label="Preview: highlighted text is what the model learns to write",
                           color_map={"learned": "green"}, combine_adjacent=True, elem_id="data-preview",
                           visible=False),
        "A few prepared training examples; the model is trained only on the highlighted parts.")
    cli_hint.hint_box("data", data_commands(ctx))

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
    def on_prepare(progress=gr.Progress()):
        progress(0.1, desc="Cleaning, de-duplicating and splitting your examples")
        dataset = api("data", "prepare")(ctx.project())
        progress(0.9, desc="Writing the quality report")
        summary_text, report_html, pieces = prepared_view(ctx, dataset.version)
        return (f"Prepared dataset version **{dataset.version}**. Next: pick a model on **Model & settings**.",
                summary_text, report_html, gr.update(value=pieces, visible=True))

    add.click(on_add, upload, [status, issues])
    check.click(on_check, None, [status, issues])
    prepare.click(on_prepare, None, [status, summary, report, preview])
    shown = [status, issues, summary, report, preview]
    demo.load(lambda: current_state(ctx), None, shown)
    tab.select(lambda: current_state(ctx), None, shown)
