"""Mask personal data in text before it is stored (pure functions).

Patterns, not a model: they catch the identifiers that leak most often in support traffic (e-mail
addresses, phone numbers, payment cards, IBANs, IP addresses, credentials in URLs) and leave ordinary
numbers such as order quantities or years alone.
"""

from __future__ import annotations

import re
from typing import Any

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+@")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")
# Digit groups joined by spaces, dots or dashes, optionally with +country code or (area code); which of
# these are phone numbers is decided in _mask_phone.
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]\d{1,4}){1,6}(?!\w)")
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _mask_card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[CARD]" if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group()


def _mask_phone(match: re.Match) -> str:
    found = match.group()
    digits = re.sub(r"\D", "", found)
    groups = len(re.findall(r"\d+", found))
    marked = found.startswith("+") or "(" in found
    if 7 <= len(digits) <= 15 and (marked or groups >= 3) and not _DATE.fullmatch(found):
        return "[PHONE]"
    return found


def mask_text(text: str) -> str:
    """Replace personal identifiers with [EMAIL], [PHONE], [CARD], [IBAN], [IP] or [CREDENTIALS]."""
    if not text:
        return text
    text = _URL_CREDENTIALS.sub("[CREDENTIALS]@", text)
    text = _EMAIL.sub("[EMAIL]", text)
    text = _IBAN.sub("[IBAN]", text)
    text = _CARD.sub(_mask_card, text)
    text = _IPV4.sub("[IP]", text)
    return _PHONE.sub(_mask_phone, text)


def mask_calls(calls: list[Any] | None) -> list[Any] | None:
    """OpenAI `tool_calls` with every string inside their arguments masked (a call copies what the user said)."""
    from tunesmith.data.tool_records import map_argument_strings

    if not calls:
        return calls
    masked = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            try:
                arguments = map_argument_strings(function["arguments"], mask_text)
            except ValueError:  # not JSON: masked as text
                arguments = mask_text(function["arguments"])
            call = {**call, "function": {**function, "arguments": arguments}}
        masked.append(call)
    return masked


def mask_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages with every string `content` and the arguments of their tool calls masked (other fields kept
    as they are)."""
    masked = []
    for message in messages:
        copy = dict(message)
        if isinstance(copy.get("content"), str):
            copy["content"] = mask_text(copy["content"])
        if isinstance(copy.get("tool_calls"), list):
            copy["tool_calls"] = mask_calls(copy["tool_calls"])
        masked.append(copy)
    return masked
