"""Cleaning steps on canonical records: pure functions, each switchable and counted.

Every step returns the new text; `clean_record` applies the enabled steps to every text field and
counts how many records each step changed, so the report can say what was touched.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable

import ftfy

from tunesmith.config.data import DataConfig
from tunesmith.data.tool_records import map_argument_strings

# ftfy is a no-op on ASCII text without control characters, CR or HTML entities (nothing to fix in
# encoding, ligatures, quotes or normal form); skipping it there keeps cleaning fast on large sets.
TEXT_FIELDS = ("text", "text_pair", "rejected", "query", "positive", "negative")  # string fields of a record
_ASCII_SUSPECT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f&]")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_BLANK_RUN = re.compile(r"\n{3,}")
_HTML_TAG = re.compile(
    r"</?(?:a|abbr|b|blockquote|body|br|caption|center|code|div|em|font|h[1-6]|head|hr|html|i|img|li|ol|p|pre|"
    r"small|span|strong|sub|sup|table|tbody|td|th|thead|title|tr|u|ul)(?:\s[^<>]*)?/?>", re.IGNORECASE)
_BLOCK_TAG = re.compile(r"<(?:br|/p|/div|/li|/h[1-6]|/tr|hr)\b[^<>]*>", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d{1,4}\)?(?:[ .-]?\(?\d{2,4}\)?){2,5}(?!\w)")


def normalize_text(text: str) -> str:
    """Repair mojibake and normalize Unicode (ftfy, NFC), then tidy whitespace without touching indentation."""
    if not text.isascii() or _ASCII_SUSPECT.search(text):
        text = ftfy.fix_text(text, unescape_html=False)
    if "\n" in text:
        text = _BLANK_RUN.sub("\n\n", _TRAILING_SPACE.sub("\n", text))
    return text.strip()


def strip_html(text: str) -> str:
    """Remove HTML tags (block tags become line breaks) and decode entities; other text is untouched."""
    if "<" in text and _HTML_TAG.search(text):
        text = _HTML_TAG.sub("", _BLOCK_TAG.sub(lambda m: m.group(0) + "\n", text))
        text = _BLANK_RUN.sub("\n\n", text).strip()
    if "&" in text and _ENTITY.search(text):
        text = html.unescape(text)
    return text


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _looks_like_phone(candidate: str) -> bool:
    """7-15 digits (E.164); a long unbroken digit run without '+' is more likely an order or account id."""
    digits = sum(c.isdigit() for c in candidate)
    formatted = candidate.startswith("+") or any(c in candidate for c in " .-()")
    return 7 <= digits <= 15 and (formatted or digits <= 11)


def mask_pii(text: str) -> str:
    """Replace emails, card numbers (Luhn-checked) and phone numbers with placeholders."""
    if "@" in text:
        text = _EMAIL.sub("[EMAIL]", text)
    if any(ch.isdigit() for ch in text):
        text = _CARD.sub(lambda m: "[CARD]" if _luhn_valid(re.sub(r"\D", "", m.group(0))) else m.group(0), text)
        text = _PHONE.sub(lambda m: "[PHONE]" if _looks_like_phone(m.group(0)) else m.group(0), text)
    return text


def cleaning_steps(config: DataConfig) -> list[tuple[str, Callable[[str], str]]]:
    steps = []
    if config.strip_html:
        steps.append(("html_stripped", strip_html))
    if config.normalize_unicode:
        steps.append(("normalized", normalize_text))
    if config.mask_pii:
        steps.append(("pii_masked", mask_pii))
    return steps


def clean_record(record: dict, steps: list[tuple[str, Callable[[str], str]]], counts: Counter) -> dict:
    """Apply `steps` to every text field of a canonical record; counts[step] += 1 per changed record."""
    for name, step in steps:
        changed = False
        if "messages" in record:
            for message in record["messages"]:
                new = step(message["content"])
                changed |= new != message["content"]
                message["content"] = new
                for call in message.get("tool_calls") or ():  # the values a call copies from the conversation
                    function = call["function"]
                    new = map_argument_strings(function["arguments"], step)
                    changed |= new != function["arguments"]
                    function["arguments"] = new
        for key in TEXT_FIELDS:
            if key in record:
                new = step(record[key])
                changed |= new != record[key]
                record[key] = new
        counts[name] += changed
    return record


def empty_fields(record: dict) -> list[str]:
    """Canonical fields that cleaning left empty (e.g. a message that was only HTML)."""
    fields = [f"messages[{i}].content" for i, m in enumerate(record.get("messages", ()))
              if not m["content"] and not m.get("tool_calls")]  # a turn that only calls tools says nothing
    return fields + [key for key in TEXT_FIELDS if key in record and not record[key]]
