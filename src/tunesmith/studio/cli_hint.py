"""The terminal command that does what a page does, shown on every page so a beginner can move to the CLI.

One helper builds every command (`command`) and one renders them (`markdown`), so all pages look the same
and each command reflects the settings chosen on the page (quoted for a POSIX shell).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import gradio as gr

from tunesmith.studio import controls

HINT_CLASS = "ts-cli"
HINT_HELP = ("The same step from a terminal; the studio and the `tunesmith` command share one project folder, "
             "so you can switch between them at any time.")


def command(verb: str, root: Path, *args, **options) -> str:
    """`tunesmith VERB ARGS... -p ROOT --OPTION VALUE...`; an option whose value is None or False is left out,
    True is a bare flag, and underscores in option names become dashes."""
    words = ["tunesmith", *verb.split(), *[str(a) for a in args if a is not None], "-p", str(root)]
    for name, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        words += [flag] if value is True else [flag, str(value)]
    return " ".join(shlex.quote(word) for word in words)


def markdown(*commands: str) -> str:
    lines = "\n".join(commands)
    return f"**Same from a terminal:**\n\n```shell\n{lines}\n```"


def hint_box(page: str, text: str) -> gr.Markdown:
    """The page's 'Same from a terminal' block (`#cli-PAGE`) showing `text` (from `markdown`); pages update it
    as the user's choices change."""
    return controls.with_caption(gr.Markdown(text, elem_classes=[HINT_CLASS], elem_id=f"cli-{page}"), HINT_HELP)
