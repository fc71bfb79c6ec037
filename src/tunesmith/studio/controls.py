"""Labelled controls with help text: every control a user can touch says what it is and what it does.

Gradio shows `info` under inputs; buttons, uploads, charts and chats have no `info`, so their help is
a small caption rendered beside them. Either way the help is kept on the component as `ts_help`, so a
test can check that nothing the user sees is unexplained.
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

HELP_CLASS = "ts-help"


def _tag(component: Any, help_text: str) -> Any:
    component.ts_help = help_text
    return component


def caption(help_text: str) -> gr.Markdown:
    return gr.Markdown(help_text, elem_classes=[HELP_CLASS])


def textbox(label: str, help_text: str, **kwargs) -> gr.Textbox:
    return _tag(gr.Textbox(label=label, info=help_text, **kwargs), help_text)


def number(label: str, help_text: str, **kwargs) -> gr.Number:
    return _tag(gr.Number(label=label, info=help_text, **kwargs), help_text)


def dropdown(label: str, help_text: str, choices=None, **kwargs) -> gr.Dropdown:
    return _tag(gr.Dropdown(choices=choices or [], label=label, info=help_text, **kwargs), help_text)


def radio(label: str, help_text: str, choices, **kwargs) -> gr.Radio:
    return _tag(gr.Radio(choices=choices, label=label, info=help_text, **kwargs), help_text)


def checkbox(label: str, help_text: str, **kwargs) -> gr.Checkbox:
    return _tag(gr.Checkbox(label=label, info=help_text, **kwargs), help_text)


def button(label: str, help_text: str, variant: str = "secondary", **kwargs) -> gr.Button:
    component = gr.Button(label, variant=variant, **kwargs)
    caption(help_text)
    return _tag(component, help_text)


def with_caption(component: Any, help_text: str) -> Any:
    """Any other labelled component (upload, chart, table, chat) followed by its help caption."""
    caption(help_text)
    return _tag(component, help_text)


def status_box(label: str = "Status") -> gr.Markdown:
    """Where a page reports what happened (or the one-line error and what to do)."""
    return gr.Markdown("", label=label, elem_classes=["ts-status"])


def term(word: str, meaning: str) -> str:
    """A technical word in Markdown, explained in a tooltip: plain words first, the jargon on hover."""
    return f'<abbr title="{html.escape(meaning, quote=True)}">{word}</abbr>'
