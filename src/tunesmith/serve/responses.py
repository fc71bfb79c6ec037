"""OpenAI response bodies for completions and chat completions: whole answers and SSE streams."""

from __future__ import annotations

import json
import logging

from fastapi.responses import JSONResponse

from tunesmith.serve.batch import Delta, Finished
from tunesmith.serve.logprobs import TokenText, chat_logprobs, completion_logprobs

logger = logging.getLogger(__name__)


def usage(done: Finished) -> dict:
    return {"prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens,
            "total_tokens": done.prompt_tokens + done.completion_tokens}


def final(rid: str, created: int, model: str, text: str, done: Finished, chat: bool,
          names: TokenText) -> JSONResponse:
    if chat:
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": done.reason,
                  "logprobs": chat_logprobs(done.logprobs, names)}
    else:
        choice = {"index": 0, "text": text, "finish_reason": done.reason,
                  "logprobs": completion_logprobs(done.logprobs, names)}
    return JSONResponse({"id": rid, "object": "chat.completion" if chat else "text_completion", "created": created,
                         "model": model, "choices": [choice], "usage": usage(done)})


async def sse(rid, created, model, first, events, chat: bool, include_usage: bool, names: TokenText):
    kind = "chat.completion.chunk" if chat else "text_completion"
    offset = 0  # characters of the completion sent so far, for text_offset

    def chunk(text: str | None, reason: str | None, role: bool = False, logprobs=None) -> str:
        nonlocal offset
        if chat:
            delta = {"role": "assistant", "content": text or ""} if role else ({"content": text} if text else {})
            choice = {"index": 0, "delta": delta, "finish_reason": reason, "logprobs": chat_logprobs(logprobs, names)}
        else:
            choice = {"index": 0, "text": text or "", "finish_reason": reason,
                      "logprobs": completion_logprobs(logprobs, names, offset)}
            offset += len(text or "")
        payload = {"id": rid, "object": kind, "created": created, "model": model, "choices": [choice]}
        return f"data: {json.dumps(payload)}\n\n"

    if chat:
        yield chunk("", None, role=True)
    event = first
    try:
        while True:
            if isinstance(event, Delta):
                yield chunk(event.text, None, logprobs=event.logprobs)
            elif isinstance(event, Finished):
                yield chunk(None, event.reason)
                if include_usage:
                    payload = {"id": rid, "object": kind, "created": created, "model": model, "choices": [],
                               "usage": usage(event)}
                    yield f"data: {json.dumps(payload)}\n\n"
                break
            event = await anext(events)
    except Exception as err:  # the status line is sent already: report the failure in-band (no server paths)
        logger.exception("a streamed answer failed")
        failure = {"error": {"message": f"internal error: {type(err).__name__}", "type": "server_error",
                             "code": "internal_error"}}
        yield f"data: {json.dumps(failure)}\n\n"
    finally:
        await events.aclose()
    yield "data: [DONE]\n\n"
