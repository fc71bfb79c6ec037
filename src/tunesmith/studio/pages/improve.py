"""Improve: feedback from users, monitoring, build the next dataset version, promote or roll back."""

from __future__ import annotations

import gradio as gr

from tunesmith.studio.context import StudioContext


def build(ctx: StudioContext, demo: gr.Blocks, tab: gr.Tab) -> None:
    gr.Markdown("### Improve\n(waiting for the feedback API)")
