"""Generated text → content and tool calls, incrementally (a stream) or at once (`parse`).

A call is a `<tool_call>` block (syntax.py). Written in the canonical layout `{"name": ..., "arguments": {...}}`
(which constrained decoding guarantees) a call is announced as soon as its name is complete and its
arguments follow piece by piece, as OpenAI streams them; a block in any other layout is parsed whole when it
closes. A block that is not a call (not JSON, no name) stays text: nothing the model wrote is dropped but the
whitespace around the blocks (the content is stripped, whole or streamed alike).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tunesmith.tools.spec import ToolCall, new_call_id
from tunesmith.tools.syntax import CLOSE, OPEN

_HEAD = re.compile(r'\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*\{')


@dataclass
class TextPiece:
    text: str


@dataclass
class CallStart:
    index: int
    id: str
    name: str


@dataclass
class CallText:
    index: int
    arguments: str  # the next piece of the arguments' JSON text


@dataclass
class Parsed:
    content: str | None
    calls: list[ToolCall] = field(default_factory=list)


def _held(text: str, marker: str) -> int:
    """How many trailing characters of `text` could be the start of `marker`."""
    return max((n for n in range(1, len(marker)) if text.endswith(marker[:n])), default=0)


class _Arguments:
    """Finds where a JSON object ends, one character at a time (strings and escapes respected)."""

    def __init__(self):
        self.depth, self.in_string, self.escaped, self.done = 0, False, False, False

    def take(self, text: str) -> str:
        """The part of `text` that belongs to the object."""
        for i, char in enumerate(text):
            if self.in_string:
                self.escaped, self.in_string = (False, True) if self.escaped else (char == "\\", char != '"')
            elif char == '"':
                self.in_string = True
            elif char in "{[":
                self.depth += 1
            elif char in "}]":
                self.depth -= 1
                if self.depth == 0:
                    self.done = True
                    return text[: i + 1]
        return text


class CallStream:
    """Feed text deltas, get TextPiece / CallStart / CallText events; `close()` flushes at the end."""

    def __init__(self, new_id: Callable[[], str] = new_call_id):
        self.new_id = new_id
        self.pending = ""  # text not yet classified
        self.block: str | None = None  # inside a block: its text so far
        self.calls = 0
        self._started = False
        self._scanned = 0  # characters of the block handed to the arguments scanner
        self._arguments: _Arguments | None = None
        self._space = ""  # trailing whitespace of the content, sent only if more content follows
        self._fresh = True  # nothing said since the start or the last block: leading whitespace is dropped

    def _say(self, text: str) -> list[object]:
        text = self._space + text
        body = text.rstrip()
        self._space = text[len(body):]
        if self._fresh:
            body = body.lstrip()
        if not body:
            return []
        self._fresh = False
        return [TextPiece(body)]

    def feed(self, text: str) -> list[object]:
        events: list[object] = []
        self.pending += text
        while self.pending:
            if self.block is None:
                start = self.pending.find(OPEN)
                if start < 0:
                    keep = _held(self.pending, OPEN)
                    if len(self.pending) > keep:
                        events += self._say(self.pending[: len(self.pending) - keep])
                        self.pending = self.pending[len(self.pending) - keep:]
                    break
                events += self._say(self.pending[:start])
                self.block, self.pending = "", self.pending[start + len(OPEN):]
                self._started, self._scanned, self._arguments = False, 0, None
            end = self.pending.find(CLOSE)
            take = self.pending if end < 0 else self.pending[:end]
            if end < 0:  # keep a possible start of CLOSE back, so it never lands in the arguments
                take = take[: len(take) - _held(take, CLOSE)]
            self.block += take
            self.pending = self.pending[len(take):]
            events += self._progress()
            if end < 0:
                break
            events += self._close_block()
            self.pending = self.pending[len(CLOSE):]
        return events

    def _progress(self) -> list[object]:
        events: list[object] = []
        if not self._started:
            head = _HEAD.match(self.block)
            if head is None:
                return events
            self._started, self._arguments = True, _Arguments()
            self._scanned = head.end() - 1
            events.append(CallStart(self.calls, self.new_id(), json.loads(f'"{head.group(1)}"')))
        if not self._arguments.done and self._scanned < len(self.block):
            piece = self._arguments.take(self.block[self._scanned:])
            self._scanned += len(piece)
            if piece:
                events.append(CallText(self.calls, piece))
        return events

    def _close_block(self) -> list[object]:
        block, self.block = self.block, None
        if self._started:
            self.calls += 1
            self._space, self._fresh = "", True
            return []
        try:
            value = json.loads(block)
            name, arguments = value["name"], value.get("arguments", value.get("parameters", {}))
            arguments = json.loads(arguments) if isinstance(arguments, str) else arguments
            if not isinstance(name, str) or not isinstance(arguments, dict):
                raise ValueError(name)
        except (ValueError, KeyError, TypeError):
            return self._say(OPEN + block + CLOSE)
        self.calls += 1
        self._space, self._fresh = "", True
        return [CallStart(self.calls - 1, self.new_id(), name),
                CallText(self.calls - 1, json.dumps(arguments, ensure_ascii=False))]

    def close(self) -> list[object]:
        """Flush at the end of the answer. An unfinished block whose call had started stays a (cut) call."""
        events = self.feed("")
        if self.block is not None and not self._started:
            events += self._say(OPEN + self.block + self.pending)
        elif self.block is None and self.pending:
            events += self._say(self.pending)
        self.block, self.pending = None, ""
        return events


def collect(events: list[object]) -> Parsed:
    """Events → content (text outside the blocks; None if there is none) and calls."""
    text, calls = [], {}
    for event in events:
        if isinstance(event, TextPiece):
            text.append(event.text)
        elif isinstance(event, CallStart):
            calls[event.index] = [event.id, event.name, ""]
        elif isinstance(event, CallText):
            calls[event.index][2] += event.arguments
    content = "".join(text) or None
    return Parsed(content, [ToolCall(*calls[i]) for i in sorted(calls)])


def parse(text: str, new_id: Callable[[], str] = new_call_id) -> Parsed:
    stream = CallStream(new_id)
    return collect(stream.feed(text) + stream.close())
