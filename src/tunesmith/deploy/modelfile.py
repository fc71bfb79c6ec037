"""An Ollama Modelfile whose template and stop tokens reproduce the model's own chat template.

Ollama speaks Go templates, not Jinja, so the Jinja template is probed with marker messages to find
what it writes around each role; the pieces become a Go template, and `render_parts` re-renders
conversations from the same pieces so the export can prove they match the original template.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunesmith.errors import TunesmithError

_MARK = {"system": "\x1eSYSTEM\x1e", "user": "\x1eUSER\x1e", "assistant": "\x1eASSISTANT\x1e"}


@dataclass(frozen=True)
class TemplateParts:
    default_preamble: str  # written when the conversation does not start with a system message
    prefix: dict[str, str]  # before each role's content
    suffix: str  # after every message's content


def _render(tokenizer, messages, generation: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)


def template_parts(tokenizer) -> TemplateParts:
    """Probe the tokenizer's chat template; fail if it is not a plain per-message wrapping."""
    msg = {role: {"role": role, "content": mark} for role, mark in _MARK.items()}
    problem = TunesmithError("the chat template is too dynamic to express as an Ollama template.",
                             "Use the GGUF with llama.cpp (it reads the template from the file) or edit the "
                             "Modelfile TEMPLATE by hand.")
    full = _render(tokenizer, [msg["system"], msg["user"], msg["assistant"]], False)
    head, rest = full.split(_MARK["system"], 1) if _MARK["system"] in full else ("", "")
    if not rest or _MARK["user"] not in rest or _MARK["assistant"] not in rest:
        raise problem
    between_system_user, rest = rest.split(_MARK["user"], 1)
    between_user_assistant, suffix = rest.split(_MARK["assistant"], 1)
    gen = _render(tokenizer, [msg["user"]], True)
    plain = _render(tokenizer, [msg["user"]], False)
    if not gen.startswith(plain):
        raise problem
    assistant_prefix = gen[len(plain):]
    if not between_user_assistant.endswith(assistant_prefix) or not between_system_user.startswith(suffix):
        raise problem
    if between_user_assistant[: len(between_user_assistant) - len(assistant_prefix)] != suffix:
        raise problem
    user_prefix = between_system_user[len(suffix):]
    before_user = plain.split(_MARK["user"], 1)[0]
    if not before_user.endswith(user_prefix):
        raise problem
    return TemplateParts(before_user[: len(before_user) - len(user_prefix)],
                         {"system": head, "user": user_prefix, "assistant": assistant_prefix}, suffix)


def render_parts(parts: TemplateParts, messages: list[dict], add_generation_prompt: bool = True) -> str:
    """What the Go template produces for `messages` (the same logic, in Python)."""
    text = parts.default_preamble if not messages or messages[0]["role"] != "system" else ""
    for message in messages:
        text += parts.prefix[message["role"]] + message["content"] + parts.suffix
    return text + (parts.prefix["assistant"] if add_generation_prompt else "")


def _literal(text: str) -> str:
    if '"""' in text:
        raise TunesmithError('the chat template contains """, which a Modelfile cannot quote.',
                             "Edit the Modelfile TEMPLATE by hand.")
    return text.replace("{{", '{{ "{{" }}')


def go_template(parts: TemplateParts) -> str:
    p = {role: _literal(text) for role, text in parts.prefix.items()}
    return ("{{ if or (eq (len .Messages) 0) (ne (index .Messages 0).Role \"system\") }}"
            f"{_literal(parts.default_preamble)}{{{{ end }}}}"
            "{{ range .Messages }}"
            f"{{{{ if eq .Role \"system\" }}}}{p['system']}{{{{ else if eq .Role \"user\" }}}}{p['user']}"
            f"{{{{ else }}}}{p['assistant']}{{{{ end }}}}{{{{ .Content }}}}{_literal(parts.suffix)}"
            f"{{{{ end }}}}{p['assistant']}")


def stop_tokens(tokenizer, eos_ids: set[int]) -> list[str]:
    tokens = [tokenizer.convert_ids_to_tokens(i) for i in sorted(eos_ids) if i is not None]
    return [t for t in dict.fromkeys(tokens) if t]


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def modelfile(gguf_name: str, parts: TemplateParts, stops: list[str], context_length: int, contract=None) -> str:
    """The Modelfile; with the run's inference contract, Ollama also gets its system prompt (SYSTEM, which Ollama
    puts first when a conversation brings no system message) and its generation defaults."""
    lines = [f"FROM ./{gguf_name}", f'TEMPLATE """{go_template(parts)}"""']
    if contract is not None and contract.system_prompt is not None:
        if '"""' in contract.system_prompt:
            raise TunesmithError('the system prompt contains """, which a Modelfile cannot quote.',
                                 "Edit the Modelfile SYSTEM by hand.")
        lines.append(f'SYSTEM """{contract.system_prompt}"""')
    lines += [f"PARAMETER stop {_quoted(s)}" for s in dict.fromkeys(stops)]
    if contract is not None:
        lines.append(f"PARAMETER temperature {contract.temperature:g}")
        if contract.max_new_tokens:
            lines.append(f"PARAMETER num_predict {contract.max_new_tokens}")
    lines.append(f"PARAMETER num_ctx {min(context_length, 8192)}")
    return "\n".join(lines) + "\n"


def directives(text: str) -> dict[str, list[str]]:
    """A Modelfile's instructions (FROM, TEMPLATE, SYSTEM, PARAMETER ...) and their values, triple-quoted ones
    whole: enough to read back what `modelfile` wrote."""
    import re

    found: dict[str, list[str]] = {}
    for match in re.finditer(r'^([A-Z]+) +(?:"""(.*?)"""|([^\n]*))$', text, flags=re.M | re.S):
        found.setdefault(match.group(1), []).append(match.group(2) if match.group(2) is not None else match.group(3))
    return found
