"""Structured-output and custom checks (pure): JSON validity and fields, regex / keyword rules."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from tunesmith.config.evaluation import CheckConfig

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def parse_json(text: str) -> Any | None:
    """The JSON value in `text` (bare, or inside a ``` fence, or the outermost {...}); None if none parses."""
    candidates = [text.strip(), *(m.strip() for m in _FENCE.findall(text))]
    first, last = text.find("{"), text.rfind("}")
    if 0 <= first < last:
        candidates.append(text[first: last + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
    return None


def expects_json(references: Sequence[str]) -> bool:
    """JSON metrics apply when most references are JSON objects."""
    objects = sum(isinstance(parse_json(r), dict) for r in references)
    return bool(references) and objects * 2 >= len(references)


def json_valid(prediction: str) -> float:
    return float(parse_json(prediction) is not None)


def json_field_accuracy(prediction: str, reference: str) -> float:
    """Share of the reference object's top-level fields whose values the prediction reproduces exactly."""
    expected = parse_json(reference)
    if not isinstance(expected, dict):
        return float("nan")
    if not expected:
        return 1.0
    got = parse_json(prediction)
    if not isinstance(got, dict):
        return 0.0
    return sum(key in got and got[key] == value for key, value in expected.items()) / len(expected)


def run_check(check: CheckConfig, text: str) -> float:
    """1.0 when the answer passes the rule, else 0.0."""
    flags = 0 if check.case_sensitive else re.IGNORECASE
    if check.kind == "regex":
        present = re.search(check.pattern or "", text, flags) is not None
    else:
        haystack = text if check.case_sensitive else text.lower()
        words = check.keywords if check.case_sensitive else [k.lower() for k in check.keywords]
        # must appear: every keyword is there; must not appear: none of them is.
        present = all(w in haystack for w in words) if check.must == "appear" else any(w in haystack for w in words)
    return float(present if check.must == "appear" else not present)


def check_scores(checks: Sequence[CheckConfig], predictions: Sequence[str]) -> dict[str, list[float]]:
    return {f"check:{c.name}": [run_check(c, p) for p in predictions] for c in checks}


def json_scores(predictions: Sequence[str], references: Sequence[str]) -> dict[str, list[float]]:
    if not expects_json(references):
        return {}
    return {"json_valid": [json_valid(p) for p in predictions],
            "json_field_accuracy": [json_field_accuracy(p, r) for p, r in zip(predictions, references, strict=True)]}
