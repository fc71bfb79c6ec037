"""The fallback tool-use text format, for chat templates that know nothing of tools (SmolLM2's, say).

The tools go into the system prompt (appended to the first system message, or as a new first one):

    # Tools
    You may call functions to help with the user's request. Each line below is one function's JSON schema:
    {"type": "function", "function": {"name": ..., "description": ..., "parameters": {...}}}
    To call functions, answer with one block per call and nothing after the blocks:
    <tool_call>
    {"name": <function name>, "arguments": <the arguments as a JSON object>}
    </tool_call>

An assistant turn that calls tools is its text (if any), a newline, then the blocks, one per call, separated
by newlines. A tool's result is a user turn `<tool_response>\\n<content>\\n</tool_response>` (consecutive
results share one user turn). The `<tool_call>` block is also what chat templates of the Hermes / Qwen
family write natively, so the same parser and the same constrained-decoding grammar serve both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from tunesmith.tools.spec import Tool, ToolCall

OPEN = "<tool_call>"
CLOSE = "</tool_call>"
RESULT_OPEN = "<tool_response>"
RESULT_CLOSE = "</tool_response>"
ITEM_SEPARATOR, KEY_SEPARATOR = ", ", ": "  # json.dumps' defaults: the layout blocks are written (and decoded) in


def call_block(name: str, arguments: str) -> str:
    """One call as the assistant writes it; `arguments` is the JSON object's text, kept as given."""
    return f'{OPEN}\n{{"name": {json.dumps(name)}, "arguments": {arguments}}}\n{CLOSE}'


def format_calls(calls: Iterable[ToolCall], content: str | None = None) -> str:
    """An assistant turn that calls tools, as text (the training target for such a turn)."""
    blocks = "\n".join(call_block(c.name, c.arguments) for c in calls)
    return f"{content}\n{blocks}" if content else blocks


def system_section(tools: Iterable[Tool]) -> str:
    lines = "\n".join(json.dumps(t.openai(), ensure_ascii=False) for t in tools)
    return ("# Tools\nYou may call functions to help with the user's request. Each line below is one function's "
            f"JSON schema:\n{lines}\nTo call functions, answer with one block per call and nothing after the "
            f'blocks:\n{OPEN}\n{{"name": <function name>, "arguments": <the arguments as a JSON object>}}\n{CLOSE}')


def result_block(content: str) -> str:
    return f"{RESULT_OPEN}\n{content}\n{RESULT_CLOSE}"
