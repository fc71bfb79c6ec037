"""Help that speaks words, not Python: `--set KEY=VALUE`, `--limit INTEGER`, flags with no type at all.

Typer 0.29 labels every option with its annotation (`<bool>`, `<list[str]>`, `<float range>`), including
`--help` itself, and has no setting to turn that off. `use_plain_labels()` swaps its label method once, for
every command (new ones included): an option's own `metavar` wins, flags show none, other types get a
word. It also keeps a hidden argument (a deprecated positional form) out of the usage line, as it is out of
the list. tests/cli/test_cli_surface.py checks every command's --help.
"""

from __future__ import annotations

import re

WORDS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "path": "PATH", "file": "FILE", "dir": "FOLDER",
         "datetime": "DATE"}


def plain_label(typer_label: str | None) -> str | None:
    """`<list[str]>` → `TEXT...`, `<int range>` → `INTEGER`, `<bool>` → None; a label of choices stays."""
    if not typer_label:
        return typer_label
    text = typer_label.strip()
    repeated = text.endswith("...")
    text = text.removesuffix("...").strip("<>")
    listed = re.fullmatch(r"list\[(.*)\]", text)
    if listed:
        text, repeated = listed.group(1), True
    text = text.removesuffix(" range")
    if text == "bool":
        return None
    word = WORDS.get(text, text if "|" in text else text.upper())
    return f"{word}..." if repeated else word


def use_plain_labels() -> None:
    from typer.core import TyperArgument, TyperOption

    if getattr(TyperOption, "_tunesmith_plain", False):
        return
    typer_option_label = TyperOption.display_type_rich

    def option_label(self, ctx):
        if self.metavar is not None:
            return self.metavar
        if self.is_flag or self.count:
            return None
        return plain_label(typer_option_label(self, ctx))

    def argument_label(self, ctx):
        return None  # an argument is shown by its name (RUN, FILE), which says what to give

    typer_usage = TyperArgument.get_usage_pieces

    def argument_usage(self, ctx):
        return [] if self.hidden else typer_usage(self, ctx)

    TyperOption.display_type_rich = option_label
    TyperArgument.display_type_rich = argument_label
    TyperArgument.get_usage_pieces = argument_usage
    TyperOption._tunesmith_plain = True
