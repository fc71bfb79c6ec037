"""Detect the format of source rows and convert them to canonical records, checking every field.

Conversion and validation are one pure pass: each row yields a canonical record or the list of
everything wrong with it, named with the source's own field names (e.g. `conversations[2].from`).
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from typing import Any

from tunesmith.data import tool_records
from tunesmith.data.issues import Issue

# format -> (required keys, optional keys); detection tries them in this order
FORMATS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # embedding (objective.task: embedding): a query and the document that answers it (and one that does
    # not), or two sentences and how similar they are; both become {query, positive[, negative][, score]}
    "query_positive": (("query", "positive"), ("negative",)),
    "sentence_pair_score": (("sentence1", "sentence2", "score"), ()),
    "openai": (("messages",), ("tools",)),
    "sharegpt": (("conversations",), ("system", "tools")),
    "alpaca": (("instruction", "output"), ("input", "system")),
    "prompt_completion": (("prompt", "completion"), ()),
    "question_answer": (("question", "answer"), ()),
    "input_output": (("input", "output"), ()),
    "text_label": (("text", "label"), ("text_pair",)),
    "text": (("text",), ()),
}
CHAT_FORMATS = ("openai", "sharegpt", "alpaca", "prompt_completion", "question_answer", "input_output")
EMBEDDING_FORMATS = ("query_positive", "sentence_pair_score")
PAIR_FORMATS = ("alpaca", "prompt_completion", "question_answer", "input_output")
ROLES = ("system", "user", "assistant")
SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant",
                  "assistant": "assistant", "chatgpt": "assistant", "bard": "assistant", "model": "assistant"}
# Conversations (not preference pairs) may also call tools and read their results (data/tool_records.py).
CHAT_ROLES = {role: role for role in (*ROLES, "tool")}
SHAREGPT_CHAT_ROLES = {**SHAREGPT_ROLES, "function_call": "function_call", "observation": "tool", "tool": "tool"}
MESSAGE_KEYS = ("role", "content", "weight", "name", "tool_calls", "tool_call_id")
RESERVED = ("id", "meta", "metadata")


def detect_format(values: list[Any]) -> str | None:
    """The format most sample rows match (first match in FORMATS order per row), or None."""
    votes = Counter(fmt for value in values if isinstance(value, dict) and (fmt := _match(value)))
    return votes.most_common(1)[0][0] if votes else None


def _match(value: dict) -> str | None:
    return next((fmt for fmt, (required, _) in FORMATS.items() if all(k in value for k in required)), None)


def rename_columns(value: Any, columns: dict[str, str]) -> Any:
    if not columns or not isinstance(value, dict):
        return value
    return {columns.get(key, key): item for key, item in value.items()}


class _Check:
    """Collects issues for one row; field names are the source's."""

    def __init__(self, file: str, line: int):
        self.file, self.line, self.issues = file, line, []

    def error(self, field: str, message: str, hint: str) -> None:
        self.issues.append(Issue(self.file, self.line, field, message, hint))

    def text(self, value: Any, field: str, allow_empty: bool = False) -> str | None:
        if value is None:
            self.error(field, "missing value", "Give a string.")
            return None
        if not isinstance(value, str):
            self.error(field, f"expected a string, got {_type_name(value)}", "Give the text as a JSON string.")
            return None
        if not allow_empty and not value.strip():
            self.error(field, "empty content", "Write the text, or remove this row.")
            return None
        return value


def _type_name(value: Any) -> str:
    if isinstance(value, list) and not value:
        return "an empty array"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def convert(value: Any, fmt: str, task: str, file: str, line: int) -> tuple[dict | None, list[Issue]]:
    """One source row -> (canonical record, []) or (None, every issue found)."""
    check = _Check(file, line)
    if not isinstance(value, dict):
        check.error("", f"expected a JSON object, got {_type_name(value)}", "Each row must be one object of fields.")
        return None, check.issues
    required, optional = FORMATS[fmt]
    missing = [key for key in required if key not in value]
    if missing:
        detected = _match(value)
        known = set(required) | set(optional) | set(RESERVED)
        if detected is None and not (set(value) & known):
            check.error("", f"unknown keys {', '.join(sorted(map(str, value)))}",
                        f"Expected the {fmt} format ({', '.join(required)}); map your names with "
                        "data.sources[].columns.")
        else:
            for key in missing:
                check.error(key, f"missing key '{key}' ({fmt} format)", f"Add '{key}' to every row.")
        return None, check.issues
    fit = task_misfit(fmt, task)
    if fit:
        check.error("", fit, "Set objective.task to match the data, or choose another source.")
        return None, check.issues
    body = _CONVERTERS[fmt](value, check, task)
    if check.issues or body is None:
        return None, check.issues
    record = {"id": _record_id(value), **body, "meta": _meta(value, required + optional)}
    return record, []


def task_misfit(fmt: str, task: str) -> str | None:
    if task == "embedding" and fmt not in EMBEDDING_FORMATS:
        return (f"{fmt} rows are not (query, positive[, negative]) or (sentence1, sentence2, score) pairs "
                "(objective.task is embedding)")
    if task != "embedding" and fmt in EMBEDDING_FORMATS:
        return f"{fmt} rows are pairs for training an embedding model (objective.task is {task})"
    if task == "chat" and fmt in ("text_label", "text"):
        return f"{fmt} rows cannot train a chat model (objective.task is chat)"
    if task == "classification" and fmt in ("openai", "sharegpt", "text"):
        return f"{fmt} rows have no label (objective.task is classification)"
    if task == "text" and fmt in ("openai", "sharegpt", *PAIR_FORMATS):
        return f"{fmt} rows are conversations, not raw text (objective.task is text)"
    if task != "chat" and fmt in _preference.FORMATS:
        return f"{fmt} rows are preferences between chat answers (objective.task is {task})"
    return None


def _record_id(value: dict) -> str | None:
    raw = value.get("id")
    return str(raw) if isinstance(raw, (str, int)) and not isinstance(raw, bool) and str(raw) else None


def _meta(value: dict, schema_keys: tuple[str, ...]) -> dict:
    """Everything the source had beyond the schema, e.g. OpenAI `metadata: {facts: [...]}` -> meta.facts."""
    meta: dict = {}
    for key in ("metadata", "meta"):
        if isinstance(value.get(key), dict):
            meta.update(value[key])
    for key, item in value.items():
        if key not in schema_keys and key not in RESERVED:
            meta[key] = item
    return meta


def convert_prompt(messages: Any, tools: Any, file: str, line: int) -> tuple[dict | None, list[Issue]]:
    """A conversation that may stop before its answer (a feedback row's prompt) and the tools it offered, checked
    and converted as an OpenAI training row's are: ({"messages"?, "tools"?}, []) or (None, every issue found).
    `messages` None: only the tools."""
    check = _Check(file, line)
    if messages is None:  # the prompt is elsewhere (a logged request): only the tools to check
        tools = tool_records.convert_tools(tools, check)
        body = {"tools": tools} if tools else {}
    else:
        body = _openai({"messages": messages, "tools": tools}, check, "chat", answered=False)
    return (None, check.issues) if check.issues or body is None else (body, [])


def _openai(value: dict, check: _Check, task: str, answered: bool = True) -> dict | None:
    messages = value["messages"]
    if not isinstance(messages, list) or not messages:
        check.error("messages", f"expected a non-empty array of messages, got {_type_name(messages)}",
                    'Give [{"role": "user", "content": ...}, {"role": "assistant", "content": ...}].')
        return None
    tools = tool_records.convert_tools(value.get("tools"), check)
    out, fields = [], []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            check.error(where, f"expected an object, got {_type_name(message)}", "Each message is {role, content}.")
            continue
        unknown = [key for key, item in message.items() if key not in MESSAGE_KEYS and item is not None]
        if unknown:
            check.error(f"{where}.{unknown[0]}", f"unknown key '{unknown[0]}'",
                        f"Messages take only {', '.join(MESSAGE_KEYS)}.")
        role = _role(message.get("role"), f"{where}.role", check, CHAT_ROLES)
        calls = message.get("tool_calls") or None  # exports often write [] on plain answers
        if calls is not None and role != "assistant":
            check.error(f"{where}.tool_calls", "only assistant messages call tools", "Move the calls to an "
                        "assistant message.")
        says_nothing = role == "assistant" and calls is not None and not message.get("content")
        content = "" if says_nothing else check.text(message.get("content"), f"{where}.content")
        item = {"role": role, "content": content}
        if role == "assistant" and calls is not None:
            item["tool_calls"] = tool_records.openai_calls(calls, where, check, index)
        if role == "tool":
            item["tool_call_id"] = message.get("tool_call_id")
            if not isinstance(item["tool_call_id"], str) or not item["tool_call_id"]:
                check.error(f"{where}.tool_call_id", "a tool result needs tool_call_id",
                            "Set it to the id of the call this result answers.")
        if message.get("weight") is not None:  # tables fill absent struct fields with null
            weight = message["weight"]
            if weight not in (0, 1) or isinstance(weight, bool):
                check.error(f"{where}.weight", f"weight must be 0 or 1, got {weight!r}",
                            "Use 1 to train on this turn, 0 to skip it.")
            elif role != "assistant":
                check.error(f"{where}.weight", "weight is only allowed on assistant messages",
                            "Remove it from this message.")
            else:
                item["weight"] = int(weight)
        out.append(item)
        fields.append(where)
    return _chat_body(out, fields, tools, "messages", check, answered)


def _chat_body(messages: list[dict], fields: list[str], tools: list[dict] | None, field: str,
               check: _Check, answered: bool = True) -> dict | None:
    """The converted messages (+ tools) as a record body, once the tool calls and results check out
    (`answered`: and an assistant turn is there to learn)."""
    if not check.issues:
        tool_records.check_conversation(messages, tools, fields, check)
    if answered:
        _needs_assistant(messages, field, check)
    return {"messages": messages, **({"tools": tools} if tools else {})}


def _sharegpt(value: dict, check: _Check, task: str) -> dict | None:
    turns = value["conversations"]
    if not isinstance(turns, list) or not turns:
        check.error("conversations", f"expected a non-empty array of turns, got {_type_name(turns)}",
                    'Give [{"from": "human", "value": ...}, {"from": "gpt", "value": ...}].')
        return None
    tools = tool_records.convert_tools(value.get("tools"), check)
    out, fields = [], []
    if isinstance(value.get("system"), str) and value["system"].strip():
        out.append({"role": "system", "content": value["system"]})
        fields.append("system")
    pending: list[str] = []  # ids of function calls not yet answered by an observation
    for index, turn in enumerate(turns):
        where = f"conversations[{index}]"
        if not isinstance(turn, dict):
            check.error(where, f"expected an object, got {_type_name(turn)}", "Each turn is {from, value}.")
            continue
        unknown = [key for key, item in turn.items() if key not in ("from", "value", "weight") and item is not None]
        if unknown:
            check.error(f"{where}.{unknown[0]}", f"unknown key '{unknown[0]}'", "Turns take only from and value.")
        role = _role(turn.get("from"), f"{where}.from", check, SHAREGPT_CHAT_ROLES)
        if role == "function_call":
            calls = tool_records.sharegpt_calls(turn.get("value"), where, check, index)
            pending = [c["id"] for c in calls]
            out.append({"role": "assistant", "content": "", "tool_calls": calls})
        elif role == "tool":
            if not pending:
                check.error(f"{where}.from", "an observation answers no function_call",
                            "Put the function_call turn before its observation.")
            out.append({"role": "tool", "content": check.text(turn.get("value"), f"{where}.value"),
                        "tool_call_id": pending.pop(0) if pending else None})
        else:
            out.append({"role": role, "content": check.text(turn.get("value"), f"{where}.value")})
        fields.append(where)
    return _chat_body(out, fields, tools, "conversations", check)


def _role(raw: Any, field: str, check: _Check, mapping: dict[str, str]) -> str | None:
    if raw is None:
        check.error(field, "missing role", f"Use one of {', '.join(mapping)}.")
        return None
    if not isinstance(raw, str) or raw.lower() not in mapping:
        check.error(field, f"unknown role {raw!r}", f"Use one of {', '.join(mapping)}.")
        return None
    return mapping[raw.lower()]


def _needs_assistant(messages: list[dict], field: str, check: _Check) -> None:
    if not check.issues and not any(m["role"] == "assistant" for m in messages):
        check.error(field, "conversation has no assistant turn", "Add the answer the model should learn.")


_PAIRS = {"alpaca": ("instruction", "output"), "prompt_completion": ("prompt", "completion"),
          "question_answer": ("question", "answer"), "input_output": ("input", "output")}


def _pair(fmt: str):
    question_key, answer_key = _PAIRS[fmt]

    def convert_pair(value: dict, check: _Check, task: str) -> dict | None:
        question = check.text(value.get(question_key), question_key, allow_empty=fmt == "alpaca")
        extra = value.get("input") if fmt == "alpaca" else None
        if extra is not None:
            extra = check.text(extra, "input", allow_empty=True)
        if fmt == "alpaca" and question is not None and not (question.strip() or (extra or "").strip()):
            check.error(question_key, "empty content", "Write the instruction, or remove this row.")
        if task == "classification":
            label = _label(value.get(answer_key), answer_key, check)
            return None if check.issues else {"text": question, "label": label}
        answer = check.text(value.get(answer_key), answer_key)
        if check.issues:
            return None
        prompt = "\n\n".join(part for part in (question, extra) if part and part.strip())
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        system = value.get("system") if fmt == "alpaca" else None
        if isinstance(system, str) and system.strip():
            messages.insert(0, {"role": "system", "content": system})
        return {"messages": messages}

    return convert_pair


def _label(raw: Any, field: str, check: _Check) -> str | None:
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        check.error(field, f"expected a string label, got {_type_name(raw)}", "Give one label per row.")
        return None
    label = str(raw).strip()
    if not label:
        check.error(field, "empty label", "Give every row a label, or remove it.")
        return None
    return label


def _text_label(value: dict, check: _Check, task: str) -> dict | None:
    text = check.text(value.get("text"), "text")
    if task == "text":
        return None if check.issues else {"text": text}
    label = _label(value.get("label"), "label", check)
    record = {"text": text, "label": label}
    if value.get("text_pair") is not None:
        record["text_pair"] = check.text(value["text_pair"], "text_pair")
    return None if check.issues else record


def _text(value: dict, check: _Check, task: str) -> dict | None:
    text = check.text(value.get("text"), "text")
    return None if check.issues else {"text": text}


def _query_positive(value: dict, check: _Check, task: str) -> dict | None:
    record = {"query": check.text(value.get("query"), "query"),
              "positive": check.text(value.get("positive"), "positive")}
    if value.get("negative") is not None:  # tables fill an absent column with null
        record["negative"] = check.text(value["negative"], "negative")
    return None if check.issues else record


def _sentence_pair_score(value: dict, check: _Check, task: str) -> dict | None:
    record = {"query": check.text(value.get("sentence1"), "sentence1"),
              "positive": check.text(value.get("sentence2"), "sentence2"), "score": _score(value.get("score"), check)}
    return None if check.issues else record


def _score(raw: Any, check: _Check) -> float | None:
    """A similarity score: a number, or a string holding one (CSV cells are strings)."""
    value = None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value = float(raw)
    elif isinstance(raw, str):
        with contextlib.suppress(ValueError):
            value = float(raw.strip())
    if value is None or not math.isfinite(value):
        check.error("score", f"expected a finite number, got {raw!r}" if isinstance(raw, str) else
                    f"expected a finite number, got {_type_name(raw)}",
                    "Give how similar the two sentences are as a number, e.g. 0.8 (higher: more similar).")
        return None
    return value


_CONVERTERS = {"query_positive": _query_positive, "sentence_pair_score": _sentence_pair_score, "openai": _openai,
               "sharegpt": _sharegpt, "text_label": _text_label, "text": _text,
               **{fmt: _pair(fmt) for fmt in PAIR_FORMATS}}

# Preference rows (chosen/rejected pairs, rated answers: data/preference.py) are detected first: they carry
# keys the chat formats also use (conversations, prompt + completion, input).
from tunesmith.data import preference as _preference  # noqa: E402

FORMATS = {**_preference.FORMATS, **FORMATS}
_CONVERTERS.update(_preference.CONVERTERS)
