"""Server-sent event streams of completions and chat completions: several choices merged, tool calls as
OpenAI streams them (the call's id and name first, then its arguments piece by piece)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Sequence

from tunesmith.serve.batch import Delta, Finished
from tunesmith.serve.logprobs import TokenText, chat_logprobs, completion_logprobs
from tunesmith.serve.responses import usage
from tunesmith.tools import CallStart, CallStream, CallText, TextPiece

logger = logging.getLogger(__name__)


async def merged(streams: Sequence[AsyncIterator], firsts: Sequence[object]) -> AsyncIterator[tuple[int, object]]:
    """(choice index, event) from several engine streams as events arrive; the first event of each is given."""
    queue: asyncio.Queue = asyncio.Queue()

    async def pump(index: int, stream: AsyncIterator, first: object) -> None:
        try:
            await queue.put((index, first))
            if not isinstance(first, Finished):
                async for event in stream:
                    await queue.put((index, event))
        except Exception as err:  # handed to the reader, who reports it in-band
            await queue.put((index, err))

    tasks = [asyncio.create_task(pump(i, s, f)) for i, (s, f) in enumerate(zip(streams, firsts, strict=True))]
    try:
        finished = 0
        while finished < len(tasks):
            index, event = await queue.get()
            if isinstance(event, Exception):
                raise event
            finished += isinstance(event, Finished)
            yield index, event
    finally:
        for task in tasks:
            task.cancel()
        for stream in streams:
            with contextlib.suppress(Exception):
                await stream.aclose()


class ChatChoice:
    """Engine events of one chat choice → `choices[]` entries of chunks."""

    def __init__(self, index: int, names: TokenText, tool_calls: bool):
        self.index, self.names = index, names
        self.calls = CallStream() if tool_calls else None
        self.called = False

    def _entry(self, delta: dict, reason: str | None = None, logprobs=None) -> dict:
        return {"index": self.index, "delta": delta, "finish_reason": reason,
                "logprobs": chat_logprobs(logprobs, self.names)}

    def opening(self) -> list[dict]:
        return [self._entry({"role": "assistant", "content": ""})]

    def _deltas(self, pieces: list[object]) -> list[dict]:
        deltas = []
        for piece in pieces:
            if isinstance(piece, TextPiece):
                deltas.append({"content": piece.text})
            elif isinstance(piece, CallStart):
                self.called = True
                deltas.append({"tool_calls": [{"index": piece.index, "id": piece.id, "type": "function",
                                               "function": {"name": piece.name, "arguments": ""}}]})
            elif isinstance(piece, CallText):
                deltas.append({"tool_calls": [{"index": piece.index, "function": {"arguments": piece.arguments}}]})
        return deltas

    def on(self, event: object) -> list[dict]:
        if isinstance(event, Delta):
            if self.calls is None:
                return [self._entry({"content": event.text}, logprobs=event.logprobs)]
            deltas = self._deltas(self.calls.feed(event.text))
            if event.logprobs is not None and not deltas:
                deltas = [{}]  # the tokens' logprobs still go out, with an empty delta
            return [self._entry(d, logprobs=event.logprobs if i == 0 else None) for i, d in enumerate(deltas)]
        entries = [self._entry(d) for d in self._deltas(self.calls.close())] if self.calls is not None else []
        reason = "tool_calls" if self.called and event.reason == "stop" else event.reason
        return [*entries, self._entry({}, reason)]


class CompletionChoice:
    """Engine events of one legacy completion choice → `choices[]` entries of chunks."""

    def __init__(self, index: int, names: TokenText, echo: str = ""):
        self.index, self.names, self.echo = index, names, echo
        self.offset = 0  # characters of the completion sent so far, for text_offset

    def opening(self) -> list[dict]:
        return [{"index": self.index, "text": self.echo, "finish_reason": None, "logprobs": None}] if self.echo else []

    def on(self, event: object) -> list[dict]:
        if isinstance(event, Finished):
            return [{"index": self.index, "text": "", "finish_reason": event.reason, "logprobs": None}]
        entry = {"index": self.index, "text": event.text, "finish_reason": None,
                 "logprobs": completion_logprobs(event.logprobs, self.names, self.offset)}
        self.offset += len(event.text)
        return [entry]


async def sse(head: dict, events: AsyncIterator[tuple[int, object]], choices: Sequence, prompt_tokens: int,
              include_usage: bool, obfuscate: bool) -> AsyncIterator[str]:
    kind = {**head, "object": "chat.completion.chunk" if head["object"] == "chat.completion" else head["object"]}

    def chunk(entries: list[dict], **extra) -> str:
        payload = {**kind, "choices": entries, **extra}
        if obfuscate:  # random padding, so that the size of a chunk does not give its tokens away
            payload["obfuscation"] = secrets.token_urlsafe(secrets.randbelow(12) + 1)
        return f"data: {json.dumps(payload)}\n\n"

    finished: list[Finished] = []
    try:
        for choice in choices:
            for entry in choice.opening():
                yield chunk([entry])
        async for index, event in events:
            if isinstance(event, Finished):
                finished.append(event)
            for entry in choices[index].on(event):
                yield chunk([entry])
        if include_usage:
            yield chunk([], usage=usage(prompt_tokens, finished))
    except Exception as err:  # the status line is sent already: report the failure in-band (no server paths)
        logger.exception("a streamed answer failed")
        failure = {"error": {"message": f"internal error: {type(err).__name__}", "type": "server_error",
                             "code": "internal_error"}}
        yield f"data: {json.dumps(failure)}\n\n"
    finally:
        await events.aclose()
    yield "data: [DONE]\n\n"
