"""The studio's page: one tab per lifecycle step, all over the same Python API as the CLI."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from tunesmith.studio.context import StudioContext
from tunesmith.studio.pages import data, deploy, evaluate, improve, model, objective, train

PAGES = [
    ("1 · Objective", objective),
    ("2 · Data", data),
    ("3 · Model & settings", model),
    ("4 · Train", train),
    ("5 · Evaluate", evaluate),
    ("6 · Deploy", deploy),
    ("7 · Improve", improve),
]
CSS = ".ts-help p { font-size: 0.85em; opacity: 0.75; margin: -4px 0 8px 0; }"


def build_studio(project: str | Path = ".") -> gr.Blocks:
    ctx = StudioContext(Path(project).expanduser().resolve())
    # Offline by design: no usage analytics sent anywhere.
    with gr.Blocks(title="tunesmith studio", analytics_enabled=False) as demo:
        gr.Markdown(f"## tunesmith studio\nProject folder: `{ctx.root}` · go through the steps from left to right; "
                    "each step saves its result in the project folder, so you can stop and come back.")
        with gr.Tabs():
            for label, page in PAGES:
                with gr.Tab(label, id=page.__name__.rsplit(".", 1)[-1]) as tab:
                    page.build(ctx, demo, tab)
    demo.ts_context = ctx
    return demo


def launch_studio(project: str | Path = ".", port: int = 7860, host: str = "127.0.0.1",
                  block: bool = True) -> gr.Blocks:
    demo = build_studio(project)
    root = str(demo.ts_context.root)
    demo.queue(default_concurrency_limit=2)
    demo.launch(server_name=host, server_port=port, css=CSS, allowed_paths=[root], footer_links=[],
                prevent_thread_lock=not block, quiet=True, inbrowser=False)
    return demo
