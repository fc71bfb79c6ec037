"""The inference contract: how a run's model is prompted, so that every way of using it (serve, the studio,
the fine-tuning API, every export) prompts it the way training and evaluation did.

- `system_prompt`: added as the first message of every conversation that does not start with its own system
  message (a request's own system prompt overrides it); None: nothing is added, the chat template does what it
  did in training (SmolLM2's inserts its own default).
- `chat_template`: the template text training rendered conversations with (the run's tokenizer/ carries it).
- generation defaults (`max_new_tokens`, `temperature`, `stop`): what evaluation generated with; a request
  that sets a parameter itself overrides its default.
- `labels`: a classifier's label set, in output order.

`rendered_prompt(tokenizer, contract, messages, tools)` is the one way a conversation becomes the text a model
reads; evaluation, serving and the studio all go through `contract.conversation(messages)` and the same chat
template renderer (`tunesmith.tools.render`). This module is pure: reading and writing the record is
`tunesmith.runs.folder`'s (run.json's "inference") and the exporters' (`CONTRACT_FILE` beside an export).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

CONTRACT_FILE = "inference.json"  # the contract beside an export's weights (HF folder, adapter, GGUF)
SOURCES = ("config", "data", "none")  # where the system prompt came from

Messages = list[dict[str, Any]]


@dataclass(frozen=True)
class InferenceContract:
    system_prompt: str | None = None
    system_prompt_source: str = "none"  # config (objective.system_prompt), data (all training conversations), none
    chat_template: str | None = None
    max_new_tokens: int | None = None  # None: the server's own default
    temperature: float = 0.0  # evaluation decodes greedily
    stop: tuple[str, ...] = ()
    labels: tuple[str, ...] | None = None
    recorded: bool = True  # False: derived for a run trained before runs recorded their contract

    # the one rule for system prompts ------------------------------------------------------------------------
    def conversation(self, messages: Sequence[dict]) -> Messages:
        """`messages` as the model reads them: the contract's system prompt first, unless they bring their own."""
        messages = list(messages)
        if self.system_prompt is None or (messages and messages[0].get("role") == "system"):
            return messages
        return [{"role": "system", "content": self.system_prompt}, *messages]

    def client_messages(self, messages: Sequence[dict]) -> Messages:
        """What a client of a deployment sends for `messages`: without the leading system message when it is
        the contract's own (the client does not know it; the deployment adds it)."""
        messages = list(messages)
        if (self.system_prompt is not None and messages and messages[0].get("role") == "system"
                and messages[0].get("content") == self.system_prompt):
            return messages[1:]
        return messages

    # exports ---------------------------------------------------------------------------------------------------
    def exported_template(self, template: str | None) -> str | None:
        """`template` made to add the system prompt itself when a conversation brings none (for exports, whose
        users call `apply_chat_template`, llama.cpp or vLLM directly). Unchanged when there is no prompt."""
        if self.system_prompt is None or not template:
            return template
        literal = json.dumps(self.system_prompt, ensure_ascii=False)  # a Jinja string literal (same escapes)
        return ("{% if not messages or messages[0]['role'] != 'system' %}"
                f"{{% set messages = [{{'role': 'system', 'content': {literal}}}] + messages %}}"
                "{% endif %}" + template)

    # the record --------------------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"system_prompt": self.system_prompt, "system_prompt_source": self.system_prompt_source,
                "chat_template": self.chat_template, "max_new_tokens": self.max_new_tokens,
                "temperature": self.temperature, "stop": list(self.stop),
                "labels": list(self.labels) if self.labels is not None else None}

    @classmethod
    def from_json(cls, data: Any, recorded: bool = True) -> InferenceContract:
        """Read a record; a value of the wrong type reads as its default (a hand-edited file never raises)."""
        data = data if isinstance(data, dict) else {}
        prompt = data.get("system_prompt")
        source = data.get("system_prompt_source")
        tokens = data.get("max_new_tokens")
        temperature = data.get("temperature")
        template = data.get("chat_template")
        return cls(
            system_prompt=prompt if isinstance(prompt, str) else None,
            system_prompt_source=source if source in SOURCES else ("data" if isinstance(prompt, str) else "none"),
            chat_template=template if isinstance(template, str) and template else None,
            max_new_tokens=tokens if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens > 0 else None,
            temperature=float(temperature) if isinstance(temperature, (int, float)) and not isinstance(
                temperature, bool) and 0 <= temperature <= 2 else 0.0,
            stop=tuple(str(s) for s in data.get("stop") or () if isinstance(s, str) and s)
            if isinstance(data.get("stop"), list) else (),
            labels=tuple(str(label) for label in data["labels"]) if isinstance(data.get("labels"), list) else None,
            recorded=recorded)

    def describe(self) -> str:
        """One line for people: which system prompt the model gets by default, and where it came from."""
        if self.system_prompt is None:
            return "no system prompt is added (the chat template's own default applies)"
        where = {"config": "objective.system_prompt", "data": "shared by every training conversation"}.get(
            self.system_prompt_source, self.system_prompt_source)
        return f"system prompt ({where}): {self.system_prompt!r}"


class SharedSystemPrompt:
    """Watches chat records one at a time: `value` is the system prompt every one of them starts with, when they
    all start with the same one; else None (records without messages are not chat records and are skipped)."""

    def __init__(self) -> None:
        self.value: str | None = None
        self._seen = self._broken = False

    def add(self, record: dict) -> None:
        messages = record.get("messages") if isinstance(record, dict) else None
        if self._broken or not messages:
            return
        first = messages[0] if isinstance(messages[0], dict) else {}
        content = first.get("content") if first.get("role") == "system" else None
        if not isinstance(content, str) or (self._seen and content != self.value):
            self.value, self._broken = None, True
            return
        self.value, self._seen = content, True


def shared_system_prompt(records: Iterable[dict]) -> str | None:
    """The system prompt every chat record starts with, when they all start with the same one; else None."""
    shared = SharedSystemPrompt()
    for record in records:
        shared.add(record)
    return shared.value


def training_contract(config, records: Sequence[dict], chat_template: str | None,
                      labels: Sequence[str] | None = None) -> InferenceContract:
    """The contract a run records: `objective.system_prompt` when set ("" = none), else the prompt all
    training conversations share; evaluation's generation settings; the chat template and labels."""
    explicit = config.objective.system_prompt
    if explicit is not None:
        prompt, source = (explicit, "config") if explicit else (None, "none")
    else:
        prompt = shared_system_prompt(records) if config.objective.task == "chat" else None
        source = "data" if prompt is not None else "none"
    return InferenceContract(system_prompt=prompt, system_prompt_source=source,
                             chat_template=chat_template if config.objective.task == "chat" else None,
                             max_new_tokens=config.evaluation.max_new_tokens, temperature=0.0, stop=(),
                             labels=tuple(labels) if labels is not None else None)


def with_contract(record: dict, contract: InferenceContract) -> dict:
    """A chat record as training reads it: the contract's system prompt first when it brings none."""
    messages = record.get("messages")
    if contract.system_prompt is None or not isinstance(messages, list):
        return record
    conversation = contract.conversation(messages)
    return record if len(conversation) == len(messages) else {**record, "messages": conversation}


def rendered_prompt(tokenizer, contract: InferenceContract | None, messages: Sequence[dict],
                    tools: Sequence = ()) -> str:
    """The exact text the model reads before it answers `messages` under `contract` (None: as given)."""
    from tunesmith.tools import render

    conversation = contract.conversation(messages) if contract is not None else list(messages)
    return render(tokenizer, conversation, tools)
