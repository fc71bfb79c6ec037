"""Deploy: export a run (with its parity check), start/stop the API server, copyable client snippets."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from tunesmith.errors import TunesmithError
from tunesmith.studio import cli_hint, controls, jobs, serving
from tunesmith.studio.context import NO_PROJECT_YET, StudioContext, api, error_line, read_json, reports_errors

FORMAT_HELP = "hf: one merged Hugging Face folder; adapter: only the small fine-tuned part (needs the base model); " \
              "gguf: one file for llama.cpp / Ollama (with a Modelfile)."


PARITY_MEANING = ("Parity check: the exported files are asked the same held-out questions as the model you trained, "
                  "and must answer the same way.")


def parity_markdown(parity: dict) -> str:
    if not parity:
        return ""
    verdict = "passed" if parity.get("passed") else "FAILED"
    rows = {k: v for k, v in parity.items() if isinstance(v, (int, float, str, bool)) and k != "passed"}
    table = "\n".join(f"| {k.replace('_', ' ')} | {f'{v:.3f}' if isinstance(v, float) else v} |"
                      for k, v in rows.items())
    return (f"**{controls.term('Parity check', PARITY_MEANING)} {verdict}**: the export answers held-out prompts "
            f"{'like' if parity.get('passed') else 'differently from'} the model you trained.\n\n"
            f"| measure | value |\n|---|---|\n{table}")


def servable(ctx: StudioContext) -> list[str]:
    """Finished runs and exports, as paths the server accepts."""
    exports = ctx.root / "exports"
    exported = sorted(str(p) for p in exports.iterdir() if p.is_dir()) if exports.is_dir() else []
    return [str(ctx.run_folder(r).path) for r in ctx.finished_runs()] + exported


def server_state(ctx: StudioContext) -> tuple[str, str, str, str]:
    """(status, curl, python, log) of the running server job, if any."""
    running = jobs.running_jobs(ctx.root, "serve")
    if not running:
        last = jobs.list_jobs(ctx.root, "serve")
        return "The API server is not running.", "", "", last[0].log_tail() if last else ""
    job = running[0]
    args = dict(zip(job.args[::2], job.args[1::2], strict=False))
    url = f"http://127.0.0.1:{args['--port']}"
    curl, python = serving.snippets(url, args["--model"])
    return (f"The API server is running at **{url}/v1** serving `{serving.model_id(args['--model'])}` "
            f"(process {job.pid}).", curl, python, job.log_tail())


def deploy_commands(ctx: StudioContext, run: str | None, format_name: str | None, model: str | None,
                    port) -> str:
    """Export the chosen run in the chosen format; serve the chosen model on the chosen port."""
    export = cli_hint.command("export", ctx.root, run or "latest", format=format_name or "hf")
    serve = cli_hint.command("serve", ctx.root, _relative(ctx, model) if model else None,
                             port=int(port) if port else None)
    return cli_hint.markdown(export, serve)


def _relative(ctx: StudioContext, path: str) -> str:
    try:
        return str(Path(path).relative_to(ctx.root))
    except ValueError:
        return path


def empty_state(ctx: StudioContext) -> str:
    if not ctx.has_project():
        return NO_PROJECT_YET
    if not ctx.finished_runs():
        return ("**Nothing to deploy yet.** When a run has finished on the **Train** page, you can export it here "
                "as files, or start a server that apps can talk to.")
    return ""


def build(ctx: StudioContext, demo: gr.Blocks, tab: gr.Tab) -> None:
    gr.Markdown("### Export\nTurn a finished run into files you can ship; each export is checked against the model "
                "you trained.")
    state = gr.Markdown("", elem_id="deploy-state")
    run = controls.dropdown("Run to export", "A finished training run.")
    fmt = controls.dropdown("Format", FORMAT_HELP, choices=["hf", "adapter", "gguf"], value="hf")
    export = controls.button("Export", "Writes the export under exports/ and replays held-out prompts through it.",
                             variant="primary")
    export_status = controls.status_box()
    parity = gr.Markdown("", elem_id="parity")

    gr.Markdown("### API server\nAn OpenAI-compatible server on this computer; apps talk to it like to OpenAI.")
    model = controls.dropdown("Model to serve", "A finished run or an export folder.")
    port = controls.number("Port", "The TCP port the server listens on (on 127.0.0.1).", precision=0,
                           elem_id="serve-port")
    with gr.Row():
        start = controls.button("Start server", "Starts the server in the background.", variant="primary")
        stop = controls.button("Stop server", "Stops the background server.", variant="stop")
    server_status = gr.Markdown("", elem_id="server-status")
    question = controls.textbox("Try a question", "Sent to the running server over HTTP, like a client app would.",
                                placeholder="e.g. How much is a red frame?")
    ask = controls.button("Ask the server", "Sends the question to the running server and shows its answer.")
    answer = gr.Markdown("", elem_id="server-answer")
    last_exchange = gr.State({})
    correction = controls.textbox("Better answer (optional)", "What the model should have said; sent as a "
                                  "correction, it becomes training data on the Improve page.", lines=2)
    with gr.Row():
        good = controls.button("Good answer", "Thumbs up: tells the server the last answer was right.")
        bad = controls.button("Needs fixing", "Thumbs down: tells the server the last answer was wrong, with your "
                              "better answer if you typed one.")
    feedback_status = gr.Markdown("", elem_id="feedback-status")
    with gr.Row(elem_id="deploy-snippets"):
        with gr.Column():
            curl = controls.with_caption(gr.Code(label="curl", language="shell", interactive=False),
                                         "Copy into a terminal.")
        with gr.Column():
            python = controls.with_caption(gr.Code(label="Python (openai package)", language="python",
                                                   interactive=False), "Copy into a Python program.")
    log = controls.textbox("Server log", "The last lines printed by the server.", lines=4, max_lines=10,
                           interactive=False)
    hint = cli_hint.hint_box("deploy", deploy_commands(ctx, None, "hf", None, None))

    def refresh(current_run, current_format, current_model, current_port):
        finished, models = ctx.finished_runs(), servable(ctx)
        try:
            default_port = ctx.project().config.serve.port
        except TunesmithError:
            default_port = None
        run = current_run if current_run in finished else (finished[0] if finished else None)
        served = current_model if current_model in models else (models[0] if models else None)
        port = current_port or default_port
        return (empty_state(ctx), gr.update(choices=finished, value=run), gr.update(choices=models, value=served),
                port, *server_state(ctx), deploy_commands(ctx, run, current_format, served, port))

    @reports_errors(2)
    def on_export(run_name, format_name):
        run_name = run_name or next(iter(ctx.finished_runs()), None)  # the choice shown before the list loaded
        if not run_name:
            raise TunesmithError("no finished run to export.", "Train one on the Train page first.")
        try:
            result = api("deploy", "export")(ctx.run_folder(run_name).path, format_name)
        except TunesmithError as err:
            # A failed parity check still wrote its report: show it next to the error.
            reports = sorted((ctx.root / "exports").glob(f"{run_name}-{format_name}*/parity.json"),
                             key=lambda p: p.stat().st_mtime)
            return error_line(err), parity_markdown(read_json(reports[-1])) if reports else ""
        return f"Exported to `{result.path}`.", parity_markdown(result.parity)

    @reports_errors(5)
    def on_start(model_path, port_number):
        model_path = model_path or next(iter(servable(ctx)), None)
        if not model_path:
            raise TunesmithError("nothing to serve yet.", "Train a run (or export one) first.")
        if jobs.running_jobs(ctx.root, "serve"):
            raise TunesmithError("a server is already running.", "Stop it first.")
        if not port_number:
            raise TunesmithError("no port given.", "Type a port number such as 8000.")
        job = jobs.start_job(ctx.root, "serve", ["--project", str(ctx.root), "--model", model_path,
                                                 "--port", str(int(port_number))])
        serving.wait_until_up(f"http://127.0.0.1:{int(port_number)}", is_running=lambda: job.alive)
        return (*server_state(ctx), "")

    @reports_errors(4)
    def on_stop():
        for job in jobs.running_jobs(ctx.root, "serve"):
            jobs.stop_job(job)
        return server_state(ctx)

    def running_server() -> tuple[str, str, str | None]:
        running = jobs.running_jobs(ctx.root, "serve")
        if not running:
            raise TunesmithError("the API server is not running.", "Press 'Start server' first.")
        args = dict(zip(running[0].args[::2], running[0].args[1::2], strict=False))
        return f"http://127.0.0.1:{args['--port']}", args["--model"], serving.client_key(ctx.root)

    @reports_errors(2)
    def on_ask(text):
        url, model_path, key = running_server()
        question = text or "Hello!"
        reply, response_id = serving.ask(url, model_path, question, api_key=key)  # the contract's defaults
        return (f"**Answer from the server:** {reply or '(empty answer)'}",
                {"question": question, "response_id": response_id})

    def rate(rating: str):
        @reports_errors(1)
        def handler(exchange, better):
            if not exchange:
                raise TunesmithError("no answer to rate yet.", "Ask the server a question first.")
            url, _model, key = running_server()
            result = serving.send_feedback(url, exchange["response_id"], exchange["question"], rating, better, key)
            usable = " It will be used to train the next version." if result.get("usable_for_training") else ""
            return f"Thanks, feedback saved ({result.get('id')}).{usable}"

        return handler

    state_outputs = [server_status, curl, python, log]
    export.click(on_export, [run, fmt], [export_status, parity])
    start.click(on_start, [model, port], [server_status, curl, python, log, answer])
    stop.click(on_stop, None, state_outputs)
    ask.click(on_ask, question, [answer, last_exchange])
    good.click(rate("up"), [last_exchange, correction], feedback_status)
    bad.click(rate("down"), [last_exchange, correction], feedback_status)
    for choice in (run, fmt, model, port):
        choice.input(lambda *values: deploy_commands(ctx, *values), [run, fmt, model, port], hint,
                     show_progress="hidden")
    shown = [state, run, model, port, *state_outputs, hint]
    tab.select(refresh, [run, fmt, model, port], shown)
    demo.load(refresh, [run, fmt, model, port], shown)

