"""Preference rows -> canonical preference records, checked field by field like every other format.

A pair is a chat record whose last assistant turn is the chosen answer, plus `rejected` (the other answer
to the same prompt); a rated answer (KTO) is a chat record plus `desirable` (true / false). So SFT on the
same file learns the chosen answers, evaluation compares against them, and dedup groups records by their
prompt, which keeps every pair of one prompt in one split (leak-free by prompt).

Formats (detected before the plain chat formats, which they overlap):
- openai_dpo: OpenAI's DPO JSONL, `input.messages`, `preferred_output`, `non_preferred_output`.
- chosen_rejected: TRL and LLaMA-Factory: `chosen`/`rejected` as strings, messages or {from, value}, with
  the prompt in `prompt` (string or messages), `instruction`/`input`/`system` (alpaca) or `conversations`
  (sharegpt); without one, the prompt is the shared start of two whole conversations (TRL's implicit
  prompt, or Anthropic-HH strings "\\n\\nHuman: ... \\n\\nAssistant: ...").
- rated: TRL's unpaired format for KTO, `prompt`, `completion`, `label` (a boolean).
"""

from __future__ import annotations

import re
from typing import Any

FORMATS = {
    "openai_dpo": (("input", "preferred_output", "non_preferred_output"), ()),
    "chosen_rejected": (("chosen", "rejected"), ("prompt", "instruction", "input", "system", "conversations")),
    "rated": (("prompt", "completion", "label"), ()),
}
_HH_TURN = re.compile(r"\n\n(Human|Assistant):[ \t]?")
_HH_ROLES = {"Human": "user", "Assistant": "assistant"}


def _messages(value: Any, field: str, check, roles: dict[str, str] | None = None) -> list[dict] | None:
    """A list of {role, content} (or sharegpt {from, value}) messages, checked; None with issues recorded."""
    from tunesmith.data.formats import ROLES, SHAREGPT_ROLES, _role, _type_name

    if not isinstance(value, list) or not value:
        check.error(field, f"expected a non-empty array of messages, got {_type_name(value)}",
                    'Give [{"role": "user", "content": ...}].')
        return None
    out = []
    for index, message in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(message, dict):
            check.error(where, f"expected an object, got {_type_name(message)}", "Each message is {role, content}.")
            return None
        if "from" in message:
            role = _role(message.get("from"), f"{where}.from", check, SHAREGPT_ROLES)
            content = check.text(message.get("value"), f"{where}.value")
        else:
            role = _role(message.get("role"), f"{where}.role", check, roles or {r: r for r in ROLES})
            content = check.text(message.get("content"), f"{where}.content")
        out.append({"role": role, "content": content})
    return None if check.issues else out


def _answer(value: Any, field: str, check) -> str | None:
    """One answer: a string, one assistant message, a one-message list, or a sharegpt {from, value}."""
    if isinstance(value, str):
        return check.text(value, field)
    if isinstance(value, dict):
        value = [value]
    messages = _messages(value, field, check)
    if messages is None:
        return None
    if len(messages) != 1 or messages[0]["role"] != "assistant":
        check.error(field, "expected one assistant message", "Give the answer alone; put the conversation "
                    "before it in the prompt.")
        return None
    return messages[0]["content"]


def _prompt_ends_with_user(prompt: list[dict], field: str, check) -> list[dict] | None:
    if prompt and prompt[-1]["role"] == "assistant":
        check.error(field, "the prompt ends with an assistant turn", "End the prompt with the user's message.")
        return None
    return prompt


def _pair(prompt: list[dict] | None, chosen: str | None, rejected: str | None, check) -> dict | None:
    if check.issues or prompt is None or chosen is None or rejected is None:
        return None
    if " ".join(chosen.split()) == " ".join(rejected.split()):
        check.error("rejected", "the rejected answer is identical to the chosen one",
                    "Give two different answers, or drop the row.")
        return None
    return {"messages": [*prompt, {"role": "assistant", "content": chosen}], "rejected": rejected}


def openai_dpo(value: dict, check, task: str) -> dict | None:
    from tunesmith.data.formats import _type_name

    given = value["input"]
    if not isinstance(given, dict) or "messages" not in given:
        check.error("input", f"expected an object with messages, got {_type_name(given)}",
                    'Give {"messages": [{"role": "user", "content": ...}]}.')
        return None
    prompt = _messages(given["messages"], "input.messages", check)
    prompt = prompt and _prompt_ends_with_user(prompt, "input.messages", check)
    chosen = _answer(value["preferred_output"], "preferred_output", check)
    rejected = _answer(value["non_preferred_output"], "non_preferred_output", check)
    return _pair(prompt, chosen, rejected, check)


def _hh_turns(text: str, field: str, check) -> list[dict] | None:
    parts = _HH_TURN.split("\n\n" + text.lstrip("\n") if not text.startswith("\n\n") else text)
    if len(parts) < 3 or parts[0].strip():
        check.error(field, "no '\\n\\nHuman:' / '\\n\\nAssistant:' turns found",
                    "Give a prompt field, or whole conversations in Anthropic-HH form.")
        return None
    return [{"role": _HH_ROLES[role], "content": content.strip()} for role, content in zip(parts[1::2], parts[2::2],
                                                                                            strict=True)]


def _split_conversation(turns: list[dict] | None, field: str, check) -> tuple[list[dict], str] | None:
    if not turns:
        return None
    if turns[-1]["role"] != "assistant" or not turns[-1]["content"]:
        check.error(field, "the conversation does not end with an assistant answer", "End it with the answer.")
        return None
    return turns[:-1], turns[-1]["content"]


def _implicit(value: dict, check) -> dict | None:
    """No prompt field: chosen and rejected are whole conversations that differ only in the last answer."""
    sides = []
    for field in ("chosen", "rejected"):
        raw = value[field]
        turns = _hh_turns(raw, field, check) if isinstance(raw, str) else _messages(raw, field, check)
        sides.append(_split_conversation(turns, field, check))
    if check.issues or None in sides:
        return None
    (prompt, chosen), (other, rejected) = sides
    if prompt != other:
        check.error("rejected", "chosen and rejected do not share a prompt (everything before the last answer)",
                    "Give both sides the same conversation up to the answer, or add a prompt field.")
        return None
    if not prompt:
        check.error("chosen", "the conversation has no prompt before the answer", "Start it with the user's turn.")
        return None
    return _pair(prompt, chosen, rejected, check)


def chosen_rejected(value: dict, check, task: str) -> dict | None:
    if "conversations" in value:  # LLaMA-Factory sharegpt
        prompt = _messages(value["conversations"], "conversations", check)
        if prompt is not None and isinstance(value.get("system"), str) and value["system"].strip():
            prompt.insert(0, {"role": "system", "content": value["system"]})
    elif "instruction" in value:  # LLaMA-Factory alpaca
        parts = [check.text(value.get(key), key, allow_empty=key == "input") for key in ("instruction", "input")
                 if value.get(key) is not None or key == "instruction"]
        prompt = None if check.issues else [{"role": "user", "content": "\n\n".join(p for p in parts if p)}]
        if prompt is not None and isinstance(value.get("system"), str) and value["system"].strip():
            prompt.insert(0, {"role": "system", "content": value["system"]})
    elif "prompt" in value:  # TRL explicit prompt
        raw = value["prompt"]
        prompt = [{"role": "user", "content": check.text(raw, "prompt")}] if isinstance(raw, str) else \
            _messages(raw, "prompt", check)
    else:
        return _implicit(value, check)
    prompt = prompt and _prompt_ends_with_user(prompt, "prompt", check)
    return _pair(prompt, _answer(value["chosen"], "chosen", check), _answer(value["rejected"], "rejected", check),
                 check)


def rated(value: dict, check, task: str) -> dict | None:
    raw = value["prompt"]
    prompt = [{"role": "user", "content": check.text(raw, "prompt")}] if isinstance(raw, str) else \
        _messages(raw, "prompt", check)
    prompt = prompt and _prompt_ends_with_user(prompt, "prompt", check)
    completion = _answer(value["completion"], "completion", check)
    label = value["label"]
    if not isinstance(label, bool):
        check.error("label", f"expected true or false, got {label!r}",
                    "Use true for a good answer, false for a bad one.")
    if check.issues or prompt is None or completion is None:
        return None
    return {"messages": [*prompt, {"role": "assistant", "content": completion}], "desirable": label}


CONVERTERS = {"openai_dpo": openai_dpo, "chosen_rejected": chosen_rejected, "rated": rated}
