"""Improve: feedback from users, monitoring, "build next version" and promote / roll back."""

from __future__ import annotations

from contextlib import contextmanager

import gradio as gr

from tunesmith.errors import TunesmithError
from tunesmith.studio import controls, jobs
from tunesmith.studio.context import StudioContext, api, reports_errors
from tunesmith.studio.data_view import report_frame

VERSION_HEADERS = ["version", "stage", "run", "dataset", "created", "note"]
FEEDBACK_HEADERS = ["when", "rating", "question", "correction", "comment", "used in"]
FEEDBACK_SHOWN = 50


def ctx_objective(ctx: StudioContext) -> str:
    """The project's feedback.objective, the dropdown's first value."""
    try:
        return ctx.project().config.feedback.objective
    except TunesmithError:
        return "auto"


def improve_args(ctx: StudioContext, setting: str | None) -> list[str]:
    """The background improve job's arguments: the project and the objective chosen on the page."""
    return ["--project", str(ctx.root), "--objective", setting or "auto"]


@contextmanager
def project_store(ctx: StudioContext):
    store = api("feedback", "open_project_store")(ctx.project())
    try:
        yield store
    finally:
        store.close()


def version_rows(ctx: StudioContext) -> list[list]:
    with project_store(ctx) as store:
        return [[v.name, v.stage, v.run_id, v.dataset_version or "", v.created_at, v.note]
                for v, _events in api("feedback", "history")(store)]


def feedback_rows(ctx: StudioContext) -> list[list]:
    from sqlalchemy import select

    from tunesmith.feedback.monitor_report import input_text
    from tunesmith.feedback.schema import Feedback

    with project_store(ctx) as store, store.session() as session:
        rows = session.execute(select(Feedback).order_by(Feedback.id.desc()).limit(FEEDBACK_SHOWN)).scalars()
        return [[f.created_at.isoformat(timespec="minutes"), f.rating or "", input_text({"messages": f.messages}),
                 f.correction or f.label or "", f.comment, f.used_in or ""] for f in rows]


OBJECTIVES = ["auto", "sft", "dpo", "kto"]


def signals_markdown(ctx: StudioContext, setting: str = "auto") -> str:
    """How many pairs, corrections and ratings the store holds, and what 'Build next version' would train."""
    project = ctx.project()
    with project_store(ctx) as store:
        found = api("feedback.improve", "feedback_signals")(store, project.config.objective.task, setting)
    counts = found.counts
    held = (f"**Feedback that can train:** {counts['pair']} pairs (a correction of a served answer), "
            f"{counts['demonstration']} corrections without the answer, {counts['rating']} ratings without a "
            "correction.")
    ending = f"{found.reason}." if found.objective else f"Nothing to train: {found.reason}."
    return f"{held}\n\n{ending}"


def monitor(ctx: StudioContext) -> tuple[str, str]:
    from tunesmith.feedback.monitor_report import write_monitor

    with project_store(ctx) as store:
        summary, report = write_monitor(store, ctx.root / "monitor", ctx.root)
    totals = ", ".join(f"{k.replace('_', ' ')}: {v:.3g}" if isinstance(v, float) else f"{k.replace('_', ' ')}: {v}"
                       for k, v in summary.totals.items())
    warnings = "".join(f"\n- ⚠️ {w}" for w in summary.warnings)
    return f"**Served traffic:** {totals}{warnings}", report_frame(report, "Production monitor", 560)


def build(ctx: StudioContext, demo: gr.Blocks, tab: gr.Tab) -> None:
    gr.Markdown("### Improve\nUsers' ratings and corrections (sent to the API server's `/v1/feedback`) become the "
                "next dataset version; a retrained model replaces production only if it is measurably better.")
    status = controls.status_box()
    versions = controls.with_caption(
        gr.Dataframe(headers=VERSION_HEADERS, label="Model versions", interactive=False, elem_id="versions-table"),
        "Every registered model version; the one in stage 'production' is what the server's project alias serves.")
    run = controls.dropdown("Run to promote", "A finished run to put into production.")
    with gr.Row():
        promote = controls.button("Promote to production", "Makes the selected run the production model.",
                                  variant="primary")
        rollback = controls.button("Roll back", "Returns production to the previous production version.",
                                   variant="stop")
    feedback = controls.with_caption(
        gr.Dataframe(headers=FEEDBACK_HEADERS, label="Feedback", interactive=False, wrap=True,
                     elem_id="feedback-table"),
        f"The latest {FEEDBACK_SHOWN} ratings and corrections; corrections not yet used feed the next version.")
    signals = gr.Markdown("", elem_id="feedback-signals")
    objective = controls.dropdown(
        "Objective", "What the feedback trains: sft learns the corrections; dpo prefers each correction over the "
        "answer it corrects, on top of production; kto learns from answers rated good or bad; auto picks from what "
        "the store holds.", choices=OBJECTIVES, value=ctx_objective(ctx))
    build_next = controls.button("Build next version", "Turns the feedback into a new dataset version, trains with "
                                 "the chosen objective, compares with production and promotes only if better "
                                 "(runs in the background).", variant="primary")
    refresh_monitor = controls.button("Refresh monitor", "Recomputes traffic, ratings and drift from the store.")
    monitor_summary = gr.Markdown("", elem_id="monitor-summary")
    monitor_report = controls.with_caption(gr.HTML(label="Monitor charts"),
                                           "Requests, errors, latency, ratings and input drift over time.")
    log = controls.textbox("Improve log", "The last lines printed by 'Build next version'.", lines=5,
                           max_lines=12, interactive=False)

    def refresh(current_run, setting):
        finished = ctx.finished_runs()
        chosen = current_run if current_run in finished else (finished[0] if finished else None)
        last = jobs.list_jobs(ctx.root, "improve")
        try:
            tables = (version_rows(ctx), feedback_rows(ctx), signals_markdown(ctx, setting or "auto"))
        except TunesmithError:  # no project or no feedback API yet: the buttons explain when pressed
            tables = (gr.skip(), gr.skip(), gr.skip())
        return (gr.update(choices=finished, value=chosen), *tables, last[0].log_tail() if last else "")

    @reports_errors(1)
    def on_objective(setting):
        return signals_markdown(ctx, setting or "auto")

    @reports_errors(2)
    def on_promote(run_name):
        run_name = run_name or next(iter(ctx.finished_runs()), None)
        if not run_name:
            raise TunesmithError("no finished run to promote.", "Train one on the Train page first.")
        with project_store(ctx) as store:
            version = api("feedback", "promote")(store, ctx.run_folder(run_name).path, reason="promoted in the studio")
        return f"{version.name} ({run_name}) is now in production.", version_rows(ctx)

    @reports_errors(2)
    def on_rollback():
        with project_store(ctx) as store:
            version = api("feedback", "rollback")(store, reason="rolled back in the studio")
        return f"Production is back to {version.name} ({version.run_id}).", version_rows(ctx)

    @reports_errors(1)
    def on_build(setting):
        ctx.project()
        api("feedback.improve", "improve")  # fail here, not in the background, when this installation lacks it
        if jobs.running_jobs(ctx.root, "improve") or jobs.running_jobs(ctx.root, "train"):
            raise TunesmithError("a training or improve run is already going.", "Wait for it to finish.")
        job = jobs.start_job(ctx.root, "improve", improve_args(ctx, setting))
        return (f"Building the next version ({setting or 'auto'}) in the background (process {job.pid}); follow it "
                "on the Train page.")

    @reports_errors(3)
    def on_monitor():
        return ("Monitor refreshed.", *monitor(ctx))

    promote.click(on_promote, run, [status, versions])
    rollback.click(on_rollback, None, [status, versions])
    build_next.click(on_build, objective, status)
    objective.change(on_objective, objective, signals)
    refresh_monitor.click(on_monitor, None, [status, monitor_summary, monitor_report])
    tab.select(refresh, [run, objective], [run, versions, feedback, signals, log])
