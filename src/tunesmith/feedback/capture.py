"""Write requests and feedback into the store: masking, retention, one transaction per write."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tunesmith.config import FeedbackConfig
from tunesmith.errors import TunesmithError
from tunesmith.feedback.pii import mask_calls, mask_messages, mask_text
from tunesmith.feedback.schema import Feedback, RequestLog, utcnow
from tunesmith.feedback.store import Store

_RETENTION_EVERY_SECONDS = 3600
_THUMBS = {"up": 1.0, "down": 0.0, "+1": 1.0, "-1": 0.0, "good": 1.0, "bad": 0.0}


def rating_score(rating: str | int | float | None) -> float | None:
    """Normalise a rating to 0 (bad) … 1 (good): up/down, or stars 1–5."""
    if rating is None or rating == "":
        return None
    text = str(rating).strip().lower()
    if text in _THUMBS:
        return _THUMBS[text]
    try:
        stars = float(text)
    except ValueError:
        stars = None
    if stars is None or not stars.is_integer() or not 1 <= stars <= 5:
        raise TunesmithError(f"rating '{rating}' is not understood",
                             "Use 'up' or 'down', or a whole number of stars from 1 to 5.")
    return (stars - 1) / 4


def _response_text(response: dict[str, Any]) -> str:
    choices = response.get("choices") or []
    if not choices:
        return ""
    first = choices[0]
    message = first.get("message") or first.get("delta") or {}
    return message.get("content") or first.get("text") or ""


def _response_tool_calls(response: dict[str, Any]) -> list[dict[str, Any]] | None:
    choices = response.get("choices") or []
    message = (choices[0].get("message") or choices[0].get("delta") or {}) if choices else {}
    calls = message.get("tool_calls")
    return [c for c in calls if isinstance(c, dict)] or None if isinstance(calls, list) else None


def _tools(raw: Any) -> list[dict[str, Any]] | None:
    return [t for t in raw if isinstance(t, dict)] or None if isinstance(raw, list) else None


def _request_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(request.get("messages"), list):
        return [m for m in request["messages"] if isinstance(m, dict)]
    prompt = request.get("prompt")
    if isinstance(prompt, list):
        prompt = "\n".join(str(p) for p in prompt)
    return [{"role": "user", "content": str(prompt)}] if prompt else []


def apply_retention(store: Store, now: dt.datetime | None = None) -> int:
    """Delete logged requests older than `retention_days`; returns how many were deleted."""
    days = store.settings.retention_days
    store.last_retention_at = time.time()
    if days is None:
        return 0
    cutoff = (now or utcnow()) - dt.timedelta(days=days)
    with store.session() as session:
        return session.execute(delete(RequestLog).where(RequestLog.created_at < cutoff)).rowcount or 0


def log_exchange(store: Store, request: dict[str, Any], response: dict[str, Any] | None, latency_s: float,
                 status: int = 200, *, endpoint: str = "/v1/chat/completions",
                 model_version_id: int | None = None) -> str | None:
    """Record one request and its answer, if `feedback.log_requests` is on. Returns the logged id.

    Called by the server after each completion; never raises for a bad payload, since logging must not
    break serving.
    """
    settings = store.settings
    if not settings.log_requests:
        return None
    response = response or {}
    messages = _request_messages(request)
    text, calls = _response_text(response), _response_tool_calls(response)
    if settings.mask_pii:
        messages, text, calls = mask_messages(messages), mask_text(text), mask_calls(calls)
    usage = response.get("usage") or {}
    row = RequestLog(id=str(response.get("id") or f"err-{uuid.uuid4().hex}"), endpoint=endpoint,
                     model=str(response.get("model") or request.get("model") or ""),
                     model_version_id=model_version_id, messages=messages, response_text=text,
                     tools=_tools(request.get("tools")), response_tool_calls=calls,
                     status=int(status), latency_ms=float(latency_s) * 1000.0,
                     prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"))
    with store.session() as session:
        session.merge(row)
    if time.time() - store.last_retention_at > _RETENTION_EVERY_SECONDS:
        apply_retention(store)
    return row.id


def _rated_answer(answer: str | None, logged: RequestLog | None, messages: list[dict[str, Any]]) -> str | None:
    """The answer being rated: given, else the logged response, else an assistant turn ending the prompt."""
    if isinstance(answer, str) and answer.strip():
        return answer
    if logged is not None and logged.response_text:
        return logged.response_text
    if messages and messages[-1].get("role") == "assistant" and str(messages[-1].get("content") or "").strip():
        return str(messages[-1]["content"])
    return None


def checked_calls(raw: list[Any] | None, tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """A correction's tool calls in OpenAI's shape (ids added where missing), each naming an offered tool with
    arguments that match its schema; raises TunesmithError naming the first bad call."""
    from tunesmith.tools import ToolCall, ToolError, new_call_id, parse_tools, validate

    if not raw:
        return None
    if not tools:
        raise TunesmithError("correction_tool_calls needs the tools the prompt offered",
                             "Log requests (feedback.log_requests) or send the prompt's `tools` with the feedback.")
    try:
        offered = parse_tools(tools)
    except ToolError as err:
        raise TunesmithError(f"the feedback's tools are not valid: {err.message}", err.hint) from None
    calls = []
    for index, item in enumerate(raw):
        function = item.get("function") if isinstance(item, dict) else None
        arguments = function.get("arguments", "{}") if isinstance(function, dict) else None
        if isinstance(arguments, dict):
            arguments = json.dumps(arguments, ensure_ascii=False)
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or \
                not isinstance(arguments, str):
            raise TunesmithError(f"correction_tool_calls[{index}] is not a tool call",
                                 'Write it as OpenAI does: {"type": "function", "function": {"name": ..., '
                                 '"arguments": "<JSON object>"}}.')
        call = ToolCall(str(item.get("id") or new_call_id()), function["name"], arguments)
        problems = validate(call, offered)
        if problems:
            raise TunesmithError(f"correction_tool_calls[{index}]: {problems[0]}",
                                 "Correct the call so that it names an offered tool with matching arguments.")
        calls.append(call.openai())
    return calls


def new_feedback(session: Session, settings: FeedbackConfig, *, response_id: str | None = None,
                 rating: str | int | None = None, correction: str | None = None, label: str | None = None,
                 comment: str = "", messages: list[dict[str, Any]] | None = None, answer: str | None = None,
                 correction_tool_calls: list[Any] | None = None, tools: list[dict[str, Any]] | None = None,
                 source: str = "api") -> Feedback:
    """Validate, mask and add one feedback row to `session` (the caller's transaction commits it).

    `answer` is the answer being rated; without it, the logged response of `response_id` (or an assistant turn
    ending `messages`) is kept, with the tool calls it made, so a correction and the answer it replaces make a
    preference pair. `correction_tool_calls` are the calls the model should have made (with `correction` as
    what it says alongside, if anything), checked against the `tools` offered (given, else logged)."""
    score = rating_score(rating)
    correction = correction.strip() if isinstance(correction, str) and correction.strip() else None
    label = str(label).strip() if label is not None and str(label).strip() else None
    comment = comment or ""
    if score is None and correction is None and not correction_tool_calls and label is None and not comment:
        raise TunesmithError("the feedback has no rating, correction, label or comment",
                             "Send at least one of them.")
    if not response_id and not messages:
        raise TunesmithError("the feedback names neither a response id nor the prompt",
                             "Send response_id (the id of the answer) or messages (the prompt).")
    logged = session.get(RequestLog, response_id) if response_id else None
    prompt = list(messages or (logged.messages if logged else []))
    tools = _tools(tools) or (logged.tools if logged else None)
    fixed_calls = checked_calls(correction_tool_calls, tools)
    answer_calls = logged.response_tool_calls if logged is not None and answer is None else None
    answer = _rated_answer(answer, logged, prompt)
    mask = settings.mask_pii
    row = Feedback(response_id=response_id or None, score=score, rating=None if rating is None else str(rating),
                   correction=mask_text(correction) if mask and correction else correction,
                   answer=mask_text(answer) if mask and answer else answer,
                   label=label, comment=mask_text(comment) if mask else comment,
                   messages=mask_messages(prompt) if mask else prompt, tools=tools,
                   answer_tool_calls=mask_calls(answer_calls) if mask else answer_calls,
                   correction_tool_calls=mask_calls(fixed_calls) if mask else fixed_calls,
                   model_version_id=logged.model_version_id if logged else None, source=source)
    session.add(row)
    return row


def record_feedback(store: Store, **fields: Any) -> Feedback:
    """Store one piece of feedback in its own transaction; fields as in `new_feedback`."""
    with store.session() as session:
        return new_feedback(session, store.settings, **fields)


def feedback_count(store: Store, *, corrected_only: bool = False, unused_only: bool = False) -> int:
    query = select(func.count(Feedback.id))
    if corrected_only:
        query = query.where((Feedback.correction.isnot(None)) | (Feedback.correction_tool_calls.isnot(None)) |
                            (Feedback.label.isnot(None)))
    if unused_only:
        query = query.where(Feedback.used_in.is_(None))
    with store.session() as session:
        return int(session.execute(query).scalar_one())
