"""Deploy: export a run (with its parity check), start/stop the API server, copyable client snippets."""

from __future__ import annotations

import gradio as gr

from tunesmith.studio.context import StudioContext


def build(ctx: StudioContext, demo: gr.Blocks, tab: gr.Tab) -> None:
    gr.Markdown("### Deploy\n(waiting for the deploy and serve API)")
