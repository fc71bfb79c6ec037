"""The records of a JSON document, each with the line it starts on and its size, in one parse.

A JSON file holds an array of records, an object of arrays (e.g. {"data": [...]}), an object of
records keyed by id, or one record. Records are parsed one by one at their offsets, so an issue names
the line a record starts on (not its position in the array) and its size can be checked.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tunesmith.data.issues import SourceError

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
Item = tuple[int, int, Any]  # (line, size in characters, value)


class _Document:
    def __init__(self, text: str):
        self.text = text
        self._line, self._counted = 1, 0

    def line_at(self, pos: int) -> int:
        """Line of `pos`; positions are asked in increasing order, so lines are counted once."""
        self._line += self.text.count("\n", self._counted, pos)
        self._counted = pos
        return self._line

    def skip(self, pos: int) -> int:
        return _SPACE.match(self.text, pos).end()

    def expect(self, pos: int, chars: str, what: str) -> str:
        char = self.text[pos:pos + 1]
        if not char or char not in chars:
            raise json.JSONDecodeError(f"Expecting {what}", self.text, pos)
        return char

    def item(self, pos: int) -> tuple[Item, int]:
        line = self.line_at(pos)
        value, end = _DECODER.raw_decode(self.text, pos)
        return (line, end - pos, value), end

    def array(self, pos: int) -> tuple[list[Item], int]:
        """Items of the array starting at `pos` ('['), and the position after its ']'."""
        items: list[Item] = []
        pos = self.skip(pos + 1)
        if self.text[pos:pos + 1] == "]":
            return items, pos + 1
        while True:
            item, pos = self.item(pos)
            items.append(item)
            pos = self.skip(pos)
            if self.expect(pos, ",]", "',' delimiter") == "]":
                return items, pos + 1
            pos = self.skip(pos + 1)


def json_items(text: str, name: str) -> list[Item]:
    """Every record of a JSON document; raises json.JSONDecodeError (with line and column) when invalid."""
    doc = _Document(text)
    start = doc.skip(0)
    first = doc.text[start:start + 1]
    if first == "[":
        items, end = doc.array(start)
    elif first == "{":
        items, end = _object_records(doc, start)
    else:
        (_, _, value), end = doc.item(start)
        raise SourceError(name, f"expected an array or an object of records, got {type(value).__name__}",
                          "Use JSON Lines or a JSON array of objects.")
    end = doc.skip(end)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return items


def _object_records(doc: _Document, start: int) -> tuple[list[Item], int]:
    """{"data": [...], ...} -> the arrays' items; {"id1": {...}, ...} -> records with those ids;
    any other object is one record."""
    line = doc.line_at(start)
    entries: dict[str, tuple[Any, list[Item] | None, int, int]] = {}  # key -> (value, array items, line, size)
    pos = doc.skip(start + 1)
    if doc.text[pos:pos + 1] != "}":
        while True:
            doc.expect(pos, '"', "property name enclosed in double quotes")
            key, pos = _DECODER.raw_decode(doc.text, pos)
            pos = doc.skip(pos)
            doc.expect(pos, ":", "':' delimiter")
            pos = doc.skip(pos + 1)
            if doc.text[pos:pos + 1] == "[":
                items, end = doc.array(pos)
                entries[key] = ([value for _, _, value in items], items, 0, end - pos)
                pos = end
            else:
                (value_line, size, value), pos = doc.item(pos)
                entries[key] = (value, None, value_line, size)
            pos = doc.skip(pos)
            if doc.expect(pos, ",}", "',' delimiter") == "}":
                break
            pos = doc.skip(pos + 1)
    end = pos + 1
    if entries and all(items is not None for _, items, _, _ in entries.values()):
        return [item for _, items, _, _ in entries.values() for item in items], end
    if entries and all(isinstance(value, dict) for value, _, _, _ in entries.values()):
        return [(value_line, size, {"id": str(key), **value})
                for key, (value, _, value_line, size) in entries.items()], end
    return [(line, end - start, {key: value for key, (value, _, _, _) in entries.items()})], end
