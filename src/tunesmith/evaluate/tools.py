"""Tool-use metrics (pure): did the model call the right tool with the right arguments, and answer when it should?

Per held-out item that offers tools, each answer is parsed with `tunesmith.tools.parse` (the one reader of calls,
as serving uses) and compared with the reference turn's calls. Every metric is 0/1 per item, NaN where it does
not apply, so evaluate/stats gives each a Wilson interval over the items it applies to and paired tests compare
contenders on the items both were scored on:

- tool_call_accuracy: the whole decision right: the reference's calls exactly (names and arguments, in any
  order) when it calls, no call when it answers. The headline for tool use.
- tool_called_when_should / tool_answered_when_should: the two halves of the call-or-answer confusion
  (reference calls → the model called; reference answers → the model did not call).
- tool_name_accuracy: reference calls → the model called the same tools (names, any order).
- tool_arguments_exact: reference calls → same names and arguments equal as JSON values.
- tool_schema_valid: the model called → every call names an offered tool with schema-valid arguments.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from tunesmith.tools import ToolCall, parse, tools_of, validate

NAN = float("nan")
TOOL_METRICS = ("tool_call_accuracy", "tool_called_when_should", "tool_answered_when_should", "tool_name_accuracy",
                "tool_arguments_exact", "tool_schema_valid")


def _call_key(name: str, arguments: str) -> tuple[str, str]:
    try:
        value = json.loads(arguments)
    except ValueError:
        return name, "\0" + arguments  # unparsable: equal only to the same text, never to valid JSON
    return name, json.dumps(value, sort_keys=True)


def _same(expected: Sequence[tuple[str, str]], got: Sequence[tuple[str, str]]) -> bool:
    return Counter(expected) == Counter(got)


def _flag(value: bool) -> float:
    return 1.0 if value else 0.0


def score_item(tools: Sequence[dict], reference_calls: Sequence[dict], output: str) -> dict[str, float]:
    """The metrics of one answer (`output`, raw generated text) to an item offering `tools` (OpenAI dicts)
    whose reference turn makes `reference_calls` (OpenAI tool_calls; empty: it answers in words)."""
    made = parse(output, new_id=lambda: "").calls
    expected = [_call_key(c["function"]["name"], c["function"]["arguments"]) for c in reference_calls]
    got = [_call_key(c.name, c.arguments) for c in made]
    scores = dict.fromkeys(TOOL_METRICS, NAN)
    if expected:
        scores["tool_called_when_should"] = _flag(bool(made))
        scores["tool_name_accuracy"] = _flag(_same([n for n, _ in expected], [n for n, _ in got]))
        scores["tool_arguments_exact"] = _flag(_same(expected, got))
        scores["tool_call_accuracy"] = scores["tool_arguments_exact"]
    else:
        scores["tool_answered_when_should"] = _flag(not made)
        scores["tool_call_accuracy"] = scores["tool_answered_when_should"]
    if made:
        offered = tools_of(list(tools))
        scores["tool_schema_valid"] = _flag(all(not validate(ToolCall("", c.name, c.arguments), offered)
                                                for c in made))
    return scores


def tool_scores(items: Sequence, outputs: Sequence[str]) -> tuple[dict[str, list[float]], dict]:
    """Per-item tool metrics (NaN for items without tools) and the call-or-answer confusion counts
    (`{"reference call": {"called": n, "answered": n}, "reference answer": {...}}`)."""
    per_item: dict[str, list[float]] = {metric: [] for metric in TOOL_METRICS}
    confusion = {"reference call": {"called": 0, "answered": 0}, "reference answer": {"called": 0, "answered": 0}}
    for item, output in zip(items, outputs, strict=True):
        scores = score_item(item.tools, item.calls, output) if item.tools else dict.fromkeys(TOOL_METRICS, NAN)
        for metric in TOOL_METRICS:
            per_item[metric].append(scores[metric])
        if item.tools:
            called = parse(output, new_id=lambda: "").calls != []
            confusion["reference call" if item.calls else "reference answer"]["called" if called else "answered"] += 1
    return per_item, {"tool_confusion": confusion}
