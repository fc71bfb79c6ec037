"""Evaluate: the honest comparison (base, few-shot prompt, fine-tuned runs) and a side-by-side playground."""

from __future__ import annotations

import gradio as gr

from tunesmith.errors import TunesmithError
from tunesmith.studio import controls, playground
from tunesmith.studio.context import StudioContext, api, read_json, reports_errors
from tunesmith.studio.data_view import report_frame


def comparison_table(comparison) -> tuple[list[str], list[list]]:
    from tunesmith.evaluate.comparison import format_estimate

    metrics, corpus = comparison.metrics_shown(), comparison.corpus_shown()
    headers = ["contender", "kind", *[m + (" ★" if m == comparison.primary else "") for m in metrics], *corpus]
    rows = [[row.name, row.kind, *[format_estimate(row.metrics.get(m)) for m in metrics],
             *[f"{row.corpus[m]:.2f}" if m in row.corpus else "–" for m in corpus]] for row in comparison.rows]
    return headers, rows


def last_report(ctx: StudioContext) -> tuple[str, str]:
    """The newest comparison written to disk (verdict, embedded report), so a refresh keeps showing it."""
    from tunesmith.evaluate.report import REPORT_JSON
    from tunesmith.runs import EVAL_DIR

    # (where it is, whose it is): each run's eval folder, and the project's for baselines-only comparisons
    written = [(ctx.run_folder(p.name).eval_dir / REPORT_JSON, p.name) for p in ctx.run_dirs()]
    written.append((ctx.root / EVAL_DIR / REPORT_JSON, ctx.root.name))
    written = sorted(((p, who) for p, who in written if p.exists()), key=lambda item: item[0].stat().st_mtime)
    if not written:
        return "", ""
    path, who = written[-1]
    verdict = read_json(path).get("verdict", "")
    return (f"**Verdict** (latest comparison, {who}): {verdict}" if verdict else "",
            report_frame(path.with_suffix(".html"), "Evaluation report", 720))


def build(ctx: StudioContext, demo: gr.Blocks, tab: gr.Tab) -> None:
    gr.Markdown("### Is the fine-tuned model better?\nEvery contender answers the same held-out examples it never "
                "saw in training; the table shows the mean with a 95% confidence interval.")
    dataset = controls.dropdown("Dataset version", "The prepared dataset whose held-out split is used.")
    runs = controls.dropdown("Fine-tuned runs", "Finished runs to compare with the base model and the few-shot "
                             "prompt.", multiselect=True, elem_id="eval-runs")
    compare = controls.button("Compare", "Scores the base model (zero-shot and few-shot) and each selected run; "
                              "takes a while on large sets.", variant="primary")
    status = controls.status_box()
    table = controls.with_caption(gr.Dataframe(label="Comparison", interactive=False, wrap=True,
                                               elem_id="comparison-table"),
                                  "★ marks the main metric; [low, high] is the 95% confidence interval.")
    verdict = gr.Markdown("")
    report = controls.with_caption(gr.HTML(label="Full report"), "Per-class metrics, confusion matrix and the worst "
                                   "examples are in the full report below.")

    gr.Markdown("### Playground: the same prompt to both models")
    run = controls.dropdown("Fine-tuned run to chat with", "Which run answers on the right.")
    with gr.Row():
        with gr.Column():
            base_chat = controls.with_caption(gr.Chatbot(label="Base model", height=320, elem_id="chat-base"),
                                              "The model before fine-tuning.")
        with gr.Column():
            tuned_chat = controls.with_caption(gr.Chatbot(label="Fine-tuned", height=320, elem_id="chat-tuned"),
                                               "The selected run.")
    prompt = controls.textbox("Your message", "Type a question your users would ask; both models answer it.",
                              placeholder="e.g. How long is the warranty on the frame?")
    with gr.Row():
        send = controls.button("Send to both", "Sends the message to both models.", variant="primary")
        clear = controls.button("Clear", "Starts a new conversation on both sides.")
    chat_status = controls.status_box()

    def refresh(current_dataset, current_runs, current_run):
        versions, finished = ctx.dataset_versions(), ctx.finished_runs()
        keep = [r for r in (current_runs or []) if r in finished]
        return (*last_report(ctx), gr.update(choices=versions, value=current_dataset if current_dataset in versions
                          else (versions[0] if versions else None)),
                gr.update(choices=finished, value=keep or finished[:1]),
                gr.update(choices=finished, value=current_run if current_run in finished
                          else (finished[0] if finished else None)))

    @reports_errors(4)
    def on_compare(version, selected):
        version = version or next(iter(ctx.dataset_versions()), None)
        if not version:
            raise TunesmithError("no prepared dataset.", "Prepare one on the Data page first.")
        project = ctx.project()
        selected = selected or ctx.finished_runs()[:1]  # what the list shows before it has loaded
        dataset = api("data", "load_prepared")(ctx.root / "data" / version)
        comparison = api("evaluate", "compare")(project, dataset, [ctx.run_folder(r).path for r in selected or []])
        headers, rows = comparison_table(comparison)
        return ("Comparison done.", gr.update(value=rows, headers=headers), f"**Verdict:** {comparison.verdict}",
                report_frame(comparison.report_html, "Evaluation report", 720))

    @reports_errors(4)
    def on_send(message, selected_run, base_history, tuned_history):
        if not message.strip():
            return "Type a message first.", gr.skip(), gr.skip(), gr.skip()
        selected_run = selected_run or next(iter(ctx.finished_runs()), None)
        if not selected_run:
            raise TunesmithError("no finished run to chat with.", "Train one on the Train page first.")
        project = ctx.project()
        limit = project.config.evaluation.max_new_tokens
        turn = {"role": "user", "content": message}
        base_history = [*(base_history or []), turn]
        tuned_history = [*(tuned_history or []), turn]
        run_dir = ctx.run_folder(selected_run).path
        if ctx.run_folder(selected_run).info().task == "classification":
            base_answer = ("A base encoder has no classifier for your labels; the comparison table's baselines show "
                           "what it can do without fine-tuning.")
            tuned_answer = playground.classify(playground.run_model(run_dir), message, project.config.model.max_length)
        else:
            base_answer = playground.reply(playground.base_model(project), base_history, limit)
            tuned_answer = playground.reply(playground.run_model(run_dir), tuned_history, limit)
        return ("", [*base_history, {"role": "assistant", "content": base_answer}],
                [*tuned_history, {"role": "assistant", "content": tuned_answer}], "")

    compare.click(on_compare, [dataset, runs], [status, table, verdict, report])
    send.click(on_send, [prompt, run, base_chat, tuned_chat], [chat_status, base_chat, tuned_chat, prompt])
    prompt.submit(on_send, [prompt, run, base_chat, tuned_chat], [chat_status, base_chat, tuned_chat, prompt])
    clear.click(lambda: ([], []), None, [base_chat, tuned_chat])
    tab.select(refresh, [dataset, runs, run], [verdict, report, dataset, runs, run])
    demo.load(refresh, [dataset, runs, run], [verdict, report, dataset, runs, run])
