"""Word-level differences between a reference and an answer, as HTML-escaped markup for the report."""

from __future__ import annotations

import difflib
import html
import re

_TOKENS = re.compile(r"\s+|[^\s]+")


def diff_html(reference: str, output: str) -> str:
    """The answer with words the reference lacks in <ins> and reference words the answer lacks in <del>.
    Every piece of text is escaped: outputs are model text, never markup."""
    ref, out = _TOKENS.findall(reference or ""), _TOKENS.findall(output or "")
    if not ref:
        return html.escape(output or "")
    parts = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ref, out, autojunk=False).get_opcodes():
        if tag == "equal":
            parts.append(html.escape("".join(out[j1:j2])))
            continue
        removed, added = "".join(ref[i1:i2]).strip(), "".join(out[j1:j2])
        if removed:
            parts.append(f'<del class="diff">{html.escape(removed)}</del>')
        if added.strip():
            parts.append(f'<ins class="diff">{html.escape(added)}</ins>')
        elif added:
            parts.append(html.escape(added))
    return "".join(parts)
