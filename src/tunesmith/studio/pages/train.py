"""Train: start, stop and resume runs in a background process; live loss chart, speed and ETA.

Everything shown is read back from the run folders on each tick, so a browser refresh (or a studio
restart) finds the run and its chart again.
"""

from __future__ import annotations

import gradio as gr

from tunesmith.errors import TunesmithError
from tunesmith.studio import cli_hint, controls, jobs
from tunesmith.studio.context import NO_PROJECT_YET, StudioContext, reports_errors
from tunesmith.studio.run_view import RUN_HEADERS, loss_points, read_metrics, run_row

POLL_SECONDS = 1.5


def start_training(ctx: StudioContext, dataset: str | None, resume: str | None = None) -> jobs.Job:
    ctx.project()  # fails with what to do when there is no project yet
    if jobs.running_jobs(ctx.root, "train"):
        raise TunesmithError("a training run is already going.", "Wait for it to finish or press Stop first.")
    dataset = dataset or next(iter(ctx.dataset_versions()), None)
    if not dataset:
        raise TunesmithError("no prepared dataset yet.", "Prepare one on the Data page first.")
    args = ["--project", str(ctx.root), "--dataset", dataset]
    if resume:
        args += ["--resume", str(ctx.run_folder(resume).path)]
    return jobs.start_job(ctx.root, "train", args)


def train_commands(ctx: StudioContext, run: str | None) -> str:
    """Train (or resume the selected run), then follow the runs, as from a terminal."""
    commands = [cli_hint.command("train", ctx.root)]
    if run:
        commands.append(cli_hint.command("train", ctx.root, run=run))
    return cli_hint.markdown(*commands, cli_hint.command("runs list", ctx.root))


def no_runs_text(ctx: StudioContext) -> str:
    if not ctx.has_project():
        return NO_PROJECT_YET
    if not ctx.dataset_versions():
        return "**No runs yet.** First prepare your examples on the **Data** page; then press **Start training**."
    return ("**No runs yet.** Press **Start training**: a tiny model takes minutes, a real one can take hours; "
            "the chart below fills in as it learns.")


def build(ctx: StudioContext, demo: gr.Blocks, tab: gr.Tab) -> None:
    gr.Markdown("### Train\nTraining runs in the background: you can close or refresh this page and come back.")
    dataset = controls.dropdown("Dataset version", "Which prepared dataset to train on (newest first).")
    with gr.Row():
        start = controls.button("Start training", "Starts a new run with the settings in tunesmith.yaml.",
                                variant="primary")
        stop = controls.button("Stop", "Stops the running training; its last checkpoint is kept for Resume.",
                               variant="stop")
        resume = controls.button("Resume selected run", "Continues the run chosen below from its last checkpoint.")
    status = controls.status_box()
    runs = controls.with_caption(
        gr.Dataframe(headers=RUN_HEADERS, label="Runs", interactive=False, elem_id="runs-table", visible=False),
        "Every training run in this project with its status and latest numbers; updates by itself.")
    selected = controls.dropdown("Run to show", "The run whose loss chart and progress appear below.")
    progress = gr.Markdown("", elem_id="run-progress")
    chart = controls.with_caption(
        gr.LinePlot(x="step", y="loss", color="split", label="Loss (lower is better)", height=340,
                    color_map={"train": "#1f77b4", "validation": "#ff7f0e"},
                    elem_id="loss-chart", visible=False),
        "Training loss (train) and held-out loss (validation) per step. If validation rises while train "
        "falls, the model is memorising.")
    log = controls.textbox("Training log", "The last lines printed by the training process.", lines=6,
                           max_lines=12, interactive=False)
    hint = cli_hint.hint_box("train", train_commands(ctx, None))
    timer = gr.Timer(POLL_SECONDS)

    drawn_curves = gr.State(())  # the curves the chart was last drawn with, per browser session

    def poll(current_selection, drawn):
        alive = bool(jobs.running_jobs(ctx.root, "train") or jobs.running_jobs(ctx.root, "improve"))
        run_dirs = ctx.run_dirs()
        names = [p.name for p in run_dirs]
        choice = current_selection if current_selection in names else (names[0] if names else None)
        rows = [run_row(p, alive) for p in run_dirs]
        points = loss_points(read_metrics(ctx.run_folder(choice).path)) if choice else loss_points([])
        row = next((r for r in rows if r[0] == choice), None)
        text = (f"**{choice}** — {row[1]}, step {row[2]}" + (f", {row[5]} tokens/s" if row[5] else "")
                + (f", about {row[6]} left" if row[6] else "")) if row else no_runs_text(ctx)
        train_jobs = jobs.list_jobs(ctx.root, "train")
        tail = train_jobs[0].log_tail() if train_jobs else ""
        # Gradio's chart keeps the curves it was first drawn with (a validation curve arriving later is never
        # drawn): when the set of curves changes, hide it for one poll so that it is drawn afresh.
        curves = tuple(sorted(set(points.split)))
        return (gr.update(value=rows, visible=bool(rows)), gr.update(choices=names, value=choice), text,
                gr.update(value=points, visible=bool(curves) and curves == tuple(drawn)), tail,
                train_commands(ctx, choice), curves)

    def refresh_datasets(current):
        versions = ctx.dataset_versions()
        return gr.update(choices=versions, value=current if current in versions else (versions[0] if versions
                                                                                       else None))

    @reports_errors(1)
    def on_start(version):
        job = start_training(ctx, version)
        return f"Training started (process {job.pid}). The run appears below in a few seconds."

    @reports_errors(1)
    def on_resume(version, run):
        if not run:
            return "Pick the run to resume under 'Run to show'."
        job = start_training(ctx, version, resume=run)
        return f"Resuming {run} (process {job.pid})."

    @reports_errors(1)
    def on_stop():
        running = jobs.running_jobs(ctx.root, "train")
        for job in running:
            jobs.stop_job(job)
        return "Stopped." if running else "Nothing is training."

    outputs = [runs, selected, progress, chart, log, hint, drawn_curves]
    start.click(on_start, dataset, status)
    resume.click(on_resume, [dataset, selected], status)
    stop.click(on_stop, None, status)
    # Polling only reads small files: never queue it behind a long comparison or chat.
    timer.tick(poll, [selected, drawn_curves], outputs, show_progress="hidden", concurrency_limit=None)
    selected.input(poll, [selected, drawn_curves], outputs, show_progress="hidden")
    demo.load(refresh_datasets, dataset, dataset)
    demo.load(poll, [selected, drawn_curves], outputs)
    tab.select(refresh_datasets, dataset, dataset)
