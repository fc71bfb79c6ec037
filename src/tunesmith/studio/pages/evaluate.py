"""Evaluate: the honest comparison (base, few-shot prompt, fine-tuned runs) and a side-by-side playground."""

from __future__ import annotations

import gradio as gr

from tunesmith.errors import TunesmithError
from tunesmith.studio import cli_hint, controls, playground
from tunesmith.studio.context import NO_PROJECT_YET, StudioContext, api, read_json, reports_errors
from tunesmith.studio.data_view import report_frame


def comparison_table(comparison) -> tuple[list[str], list[list]]:
    from tunesmith.evaluate.comparison import format_estimate

    metrics, corpus = comparison.metrics_shown(), comparison.corpus_shown()
    headers = ["contender", "kind", *[m + (" ★" if m == comparison.primary else "") for m in metrics], *corpus]
    rows = [[row.name, row.kind, *[format_estimate(row.metrics.get(m)) for m in metrics],
             *[f"{row.corpus[m]:.2f}" if m in row.corpus else "–" for m in corpus]] for row in comparison.rows]
    return headers, rows


def _estimate_text(estimate) -> str:
    from tunesmith.evaluate.comparison import format_estimate
    from tunesmith.evaluate.stats import Estimate

    if not isinstance(estimate, dict) or not isinstance(estimate.get("mean"), (int, float)):
        return "–"
    nan = float("nan")
    low, high = (estimate.get(k) if isinstance(estimate.get(k), (int, float)) else nan for k in ("low", "high"))
    return format_estimate(Estimate(float(estimate["mean"]), float(low), float(high), int(estimate.get("n") or 0)))


def report_table(data: dict) -> tuple[list[str], list[list]]:
    """The comparison table rebuilt from a written report.json (the same columns as `comparison_table`)."""
    from tunesmith.evaluate.comparison import TABLE_METRICS
    from tunesmith.evaluate.summary import metric_order

    contenders = [c for c in data.get("contenders") or [] if isinstance(c, dict)]
    primary = data.get("primary_metric")
    names = metric_order(list(dict.fromkeys(m for c in contenders for m in c.get("metrics") or {}
                                            if m != "confidence")))
    metrics = ([primary] if primary in names else []) + [m for m in names if m != primary]
    metrics = metrics[:TABLE_METRICS]
    wanted = ["f1_macro", "f1_weighted"] if data.get("task") == "classification" else ["chrf", "perplexity"]
    corpus = [m for m in wanted if any(m in (c.get("corpus") or {}) for c in contenders)]
    headers = ["contender", "kind", *[m + (" ★" if m == primary else "") for m in metrics], *corpus]
    rows = [[c.get("name", ""), c.get("kind", ""), *[_estimate_text((c.get("metrics") or {}).get(m)) for m in metrics],
             *[f"{c['corpus'][m]:.2f}" if isinstance((c.get("corpus") or {}).get(m), (int, float)) else "–"
               for m in corpus]] for c in contenders]
    return headers, rows


def last_report(ctx: StudioContext) -> tuple[str, dict, str]:
    """The newest comparison written to disk (verdict, table, embedded report), so a refresh keeps showing it;
    the table is hidden when there is none (never an empty table under a verdict)."""
    from tunesmith.evaluate.report import REPORT_JSON
    from tunesmith.runs import EVAL_DIR

    # (where it is, whose it is): each run's eval folder, and the project's for baselines-only comparisons
    written = [(ctx.run_folder(p.name).eval_dir / REPORT_JSON, p.name) for p in ctx.run_dirs()]
    written.append((ctx.root / EVAL_DIR / REPORT_JSON, ctx.root.name))
    written = sorted(((p, who) for p, who in written if p.exists()), key=lambda item: item[0].stat().st_mtime)
    if not written:
        return "", gr.update(visible=False), ""
    path, who = written[-1]
    data = read_json(path)
    headers, rows = report_table(data)
    verdict = data.get("verdict") if rows else ""
    return (f"**Verdict** (latest comparison, {who}): {verdict}" if verdict else "",
            gr.update(value=rows, headers=headers, visible=True) if rows else gr.update(visible=False),
            report_frame(path.with_suffix(".html"), "Evaluation report", 720))


def evaluate_commands(ctx: StudioContext, version: str | None, runs: list[str], chat_run: str | None) -> str:
    """Compare the selected runs on the chosen data; serve the chat's run to ask it from any client."""
    data = f"data/{version}" if version else None
    compare = cli_hint.command("compare", ctx.root, *(runs or ["latest"]), data=data)
    serve = cli_hint.command("serve", ctx.root, f"runs/{chat_run}" if chat_run else None)
    return cli_hint.markdown(compare, serve)


def empty_state(ctx: StudioContext) -> str:
    if not ctx.has_project():
        return NO_PROJECT_YET
    if not ctx.finished_runs():
        return ("**Nothing to compare yet.** Train a model on the **Train** page; when it has finished, come back "
                "here to see whether it beats the model you started from.")
    return ""


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
                                               elem_id="comparison-table", visible=False),
                                  "★ marks the main score; [low, high] is the range the true score lies in with 95% "
                                  "certainty (a 95% confidence interval). The full report defines every score.")
    verdict = gr.Markdown("", elem_id="verdict")
    report = controls.with_caption(gr.HTML(label="Full report"), "Every score defined in one sentence, the "
                                   "answers side by side and the worst examples are in the full report below.")

    gr.Markdown("### Chat with both: the model you started from and your fine-tuned one")
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
    contract = gr.Markdown("", elem_id="chat-contract")
    hint = cli_hint.hint_box("evaluate", evaluate_commands(ctx, None, [], None))

    def refresh(current_dataset, current_runs, current_run):
        versions, finished = ctx.dataset_versions(), ctx.finished_runs()
        keep = [r for r in (current_runs or []) if r in finished] or finished[:1]
        version = current_dataset if current_dataset in versions else (versions[0] if versions else None)
        chat_run = current_run if current_run in finished else (finished[0] if finished else None)
        return (empty_state(ctx), *last_report(ctx), gr.update(choices=versions, value=version),
                gr.update(choices=finished, value=keep), gr.update(choices=finished, value=chat_run),
                evaluate_commands(ctx, version, keep, chat_run))

    @reports_errors(4)
    def on_compare(version, selected, progress=gr.Progress()):
        version = version or next(iter(ctx.dataset_versions()), None)
        if not version:
            raise TunesmithError("no prepared dataset.", "Prepare one on the Data page first.")
        project = ctx.project()
        selected = selected or ctx.finished_runs()[:1]  # what the list shows before it has loaded
        dataset = api("data", "load_prepared")(ctx.root / "data" / version)
        progress(0.05, desc=f"Scoring the base model and {len(selected)} run(s) on held-out examples")
        comparison = api("evaluate", "compare")(project, dataset, [ctx.run_folder(r).path for r in selected or []])
        headers, rows = comparison_table(comparison)
        return ("Comparison done.", gr.update(value=rows, headers=headers, visible=bool(rows)),
                f"**Verdict:** {comparison.verdict}" if rows else "",
                report_frame(comparison.report_html, "Evaluation report", 720))

    @reports_errors(5)
    def on_send(message, selected_run, base_history, tuned_history):
        if not message.strip():
            return "Type a message first.", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        selected_run = selected_run or next(iter(ctx.finished_runs()), None)
        if not selected_run:
            raise TunesmithError("no finished run to chat with.", "Train one on the Train page first.")
        project = ctx.project()
        turn = {"role": "user", "content": message}
        base_history = [*(base_history or []), turn]
        tuned_history = [*(tuned_history or []), turn]
        run_dir = ctx.run_folder(selected_run).path
        task = ctx.run_folder(selected_run).info().task
        if task == "embedding":  # a search model: both rank the dataset's documents for the message
            version = next(iter(ctx.dataset_versions()), None)
            if not version:
                raise TunesmithError("no prepared dataset to search.", "Prepare one on the Data page first.")
            found = playground.search(project, api("data", "load_prepared")(ctx.root / "data" / version), run_dir,
                                      message)
            base_answer, tuned_answer = found.base, found.tuned
            note = (f"Both rank the {version} dataset's documents for your message (best first, with their "
                    "similarity); the evaluation scores the same search.")
        elif task == "classification":
            base_answer = ("A base encoder has no classifier for your labels; the comparison table's baselines show "
                           "what it can do without fine-tuning.")
            tuned_answer = playground.classify(playground.run_model(run_dir), message, project.config.model.max_length)
            note = ""
        else:
            answers = playground.side_by_side(project, run_dir, base_history, tuned_history)
            base_answer, tuned_answer, note = answers.base, answers.tuned, playground.contract_note(answers.contract)
        return ("", [*base_history, {"role": "assistant", "content": base_answer}],
                [*tuned_history, {"role": "assistant", "content": tuned_answer}], "", note)

    chat_outputs = [chat_status, base_chat, tuned_chat, prompt, contract]
    compare.click(on_compare, [dataset, runs], [status, table, verdict, report])
    send.click(on_send, [prompt, run, base_chat, tuned_chat], chat_outputs)
    prompt.submit(on_send, [prompt, run, base_chat, tuned_chat], chat_outputs)
    clear.click(lambda: ([], []), None, [base_chat, tuned_chat])
    for choice in (dataset, runs, run):
        choice.input(lambda v, r, c: evaluate_commands(ctx, v, r or [], c), [dataset, runs, run], hint,
                     show_progress="hidden")
    shown = [status, verdict, table, report, dataset, runs, run, hint]
    tab.select(refresh, [dataset, runs, run], shown)
    demo.load(refresh, [dataset, runs, run], shown)
