"""Improve: feedback from users, monitoring, "build next version" and promote / roll back."""

from __future__ import annotations

import time
from contextlib import contextmanager, suppress

import gradio as gr

from tunesmith.errors import TunesmithError
from tunesmith.studio import cli_hint, controls, jobs
from tunesmith.studio.context import NO_PROJECT_YET, StudioContext, api, error_line, reports_errors
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
        return [[v.name, v.stage, v.run_id, v.dataset_version or "", str(v.created_at or ""), v.note or ""]
                for v, _events in api("feedback", "history")(store)]


def feedback_rows(ctx: StudioContext) -> list[list]:
    from sqlalchemy import select

    from tunesmith.feedback.monitor_report import input_text
    from tunesmith.feedback.schema import Feedback

    with project_store(ctx) as store, store.session() as session:
        rows = session.execute(select(Feedback).order_by(Feedback.id.desc()).limit(FEEDBACK_SHOWN)).scalars()
        return [[f.created_at.isoformat(timespec="minutes"), f.rating or "", input_text({"messages": f.messages}),
                 f.correction or f.label or "", f.comment or "", f.used_in or ""] for f in rows]


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


LOGGING_OFF = ("Requests are not recorded: request logging is off (the setting feedback.log_requests), so the "
               "request counts and latencies stay empty; ratings and corrections are recorded all the same. Turn it "
               "on under **Model & settings → Advanced → feedback** to see traffic here.")


def totals_line(totals: dict) -> str:
    """The monitor's totals in words; a number that could not be measured (no requests yet) is left out."""
    shown = [f"{key.replace('_', ' ')}: " + (f"{value:.3g}" if isinstance(value, float) else f"{value}")
             for key, value in totals.items() if value is not None]
    return ", ".join(shown)


def monitor(ctx: StudioContext) -> tuple[str, str]:
    from tunesmith.feedback.monitor_report import write_monitor

    with project_store(ctx) as store:
        summary, report = write_monitor(store, ctx.root / "monitor", ctx.root)
    warnings = "".join(f"\n- {w}" for w in summary.warnings)
    logging = "" if ctx.project().config.feedback.log_requests else f"\n\n{LOGGING_OFF}"
    return (f"**Served traffic:** {totals_line(summary.totals)}{warnings}{logging}",
            report_frame(report, "Production monitor", 560))


def improve_commands(ctx: StudioContext, objective: str | None, run: str | None) -> str:
    return cli_hint.markdown(cli_hint.command("improve", ctx.root, objective=objective or "auto"),
                             cli_hint.command("models promote", ctx.root, run or "latest"),
                             cli_hint.command("models rollback", ctx.root),
                             cli_hint.command("models history", ctx.root),
                             cli_hint.command("monitor", ctx.root))


def empty_state(ctx: StudioContext, has_versions: bool, has_feedback: bool) -> str:
    if not ctx.has_project():
        return NO_PROJECT_YET
    parts = []
    if not has_versions:
        parts.append("**No model in production yet.** Pick a finished run below and press **Promote to "
                     "production**: that is the model the server's project name answers with, and the one "
                     "'Build next version' improves.")
    if not has_feedback:
        parts.append("**No feedback yet.** On the **Deploy** page, start the server, ask it a question and press "
                     "**Needs fixing** with a better answer: it appears here and trains the next version.")
    return "\n\n".join(parts)


def build_progress(ctx: StudioContext) -> str:
    """What 'Build next version' is doing now, or how its last build ended."""
    builds = jobs.list_jobs(ctx.root, "improve")
    if not builds:
        return ""
    job = builds[0]
    lines = [line for line in job.log_tail(40).splitlines() if line.strip()]
    last = lines[-1].strip() if lines else "starting"
    if job.alive:
        return f"**Building the next version** (for {time.time() - job.started:.0f} s so far): {last}"
    return f"**Last build finished:** {last}"


def build(ctx: StudioContext, demo: gr.Blocks, tab: gr.Tab) -> None:
    gr.Markdown("### Improve\nUsers' ratings and corrections (sent to the API server's `/v1/feedback`) become the "
                "next dataset version; a retrained model replaces production only if it is measurably better.")
    status = controls.status_box()
    state = gr.Markdown("", elem_id="improve-state")
    versions = controls.with_caption(
        gr.Dataframe(headers=VERSION_HEADERS, label="Model versions", interactive=False, elem_id="versions-table",
                     visible=False),
        "Every registered model version; the one in stage 'production' is what the server's project alias serves.")
    run = controls.dropdown("Run to promote", "A finished run to put into production.")
    with gr.Row():
        promote = controls.button("Promote to production", "Makes the selected run the production model.",
                                  variant="primary")
        rollback = controls.button("Roll back", "Returns production to the previous production version.",
                                   variant="stop")
    feedback = controls.with_caption(
        gr.Dataframe(headers=FEEDBACK_HEADERS, label="Feedback", interactive=False, wrap=True,
                     elem_id="feedback-table", visible=False),
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
    build_state = gr.Markdown("", elem_id="build-progress")
    log = controls.textbox("Improve log", "The last lines printed by 'Build next version'.", lines=5,
                           max_lines=12, interactive=False)
    hint = cli_hint.hint_box("improve", improve_commands(ctx, "auto", None))
    timer = gr.Timer(2.0)

    def tables_now() -> tuple:
        """(state line, versions table, feedback table) as the store holds them now."""
        versions_now, feedback_now = version_rows(ctx), feedback_rows(ctx)
        return (empty_state(ctx, bool(versions_now), bool(feedback_now)),
                gr.update(value=versions_now, visible=bool(versions_now)),
                gr.update(value=feedback_now, visible=bool(feedback_now)))

    def refresh(current_run, setting):
        finished = ctx.finished_runs()
        chosen = current_run if current_run in finished else (finished[0] if finished else None)
        last = jobs.list_jobs(ctx.root, "improve")
        try:
            shown = (*tables_now(), signals_markdown(ctx, setting or "auto"))
        except TunesmithError as err:  # no project or no feedback API yet: say what to do
            shown = (empty_state(ctx, True, True) or error_line(err), gr.skip(), gr.skip(), "")
        return (shown[0], gr.update(choices=finished, value=chosen), *shown[1:],
                last[0].log_tail() if last else "", build_progress(ctx), improve_commands(ctx, setting, chosen))

    def poll(building):
        """While a build runs, its progress and log; once it ends, the tables it changed (one refresh)."""
        alive = bool(jobs.running_jobs(ctx.root, "improve"))
        if not alive and not building:
            return *[gr.skip()] * 5, False
        last = jobs.list_jobs(ctx.root, "improve")
        tables = (gr.skip(),) * 3
        if not alive:
            with suppress(TunesmithError):
                tables = tables_now()
        return build_progress(ctx), last[0].log_tail() if last else "", *tables, alive

    @reports_errors(1)
    def on_objective(setting):
        return signals_markdown(ctx, setting or "auto")

    @reports_errors(4)
    def on_promote(run_name):
        run_name = run_name or next(iter(ctx.finished_runs()), None)
        if not run_name:
            raise TunesmithError("no finished run to promote.", "Train one on the Train page first.")
        with project_store(ctx) as store:
            version = api("feedback", "promote")(store, ctx.run_folder(run_name).path, reason="promoted in the studio")
        return f"{version.name} ({run_name}) is now in production.", *tables_now()

    @reports_errors(4)
    def on_rollback():
        with project_store(ctx) as store:
            version = api("feedback", "rollback")(store, reason="rolled back in the studio")
        return f"Production is back to {version.name} ({version.run_id}).", *tables_now()

    @reports_errors(2)
    def on_build(setting):
        ctx.project()
        api("feedback.improve", "improve")  # fail here, not in the background, when this installation lacks it
        if jobs.running_jobs(ctx.root, "improve") or jobs.running_jobs(ctx.root, "train"):
            raise TunesmithError("a training or improve run is already going.", "Wait for it to finish.")
        job = jobs.start_job(ctx.root, "improve", improve_args(ctx, setting))
        return (f"Building the next version ({setting or 'auto'}) in the background (process {job.pid}); its progress "
                "shows below, and its training run on the **Train** page."), True

    @reports_errors(3)
    def on_monitor():
        return ("Monitor refreshed.", *monitor(ctx))

    building = gr.State(False)
    promote.click(on_promote, run, [status, state, versions, feedback])
    rollback.click(on_rollback, None, [status, state, versions, feedback])
    build_next.click(on_build, objective, [status, building])
    objective.change(on_objective, objective, signals)
    refresh_monitor.click(on_monitor, None, [status, monitor_summary, monitor_report])
    for choice in (run, objective):
        choice.input(lambda r, o: improve_commands(ctx, o, r), [run, objective], hint, show_progress="hidden")
    timer.tick(poll, building, [build_state, log, state, versions, feedback, building], show_progress="hidden",
               concurrency_limit=None)
    shown = [state, run, versions, feedback, signals, log, build_state, hint]
    tab.select(refresh, [run, objective], shown)
    demo.load(refresh, [run, objective], shown)
