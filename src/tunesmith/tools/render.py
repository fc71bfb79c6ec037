"""Messages (+ tools) → the prompt text the model sees, through its chat template.

Native path: the template takes a `tools` argument and writes calls as `<tool_call>` blocks (Hermes / Qwen
style); tool calls and results are passed to it as Hugging Face templates expect them. Any other template
gets the fallback of `syntax.py`, so the calls a model writes are always in the one syntax `parse` reads.
Without tools and tool messages both paths give exactly `tokenizer.apply_chat_template(messages)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tunesmith.tools.spec import Tool, ToolCall, arguments_object
from tunesmith.tools.syntax import OPEN, format_calls, result_block, system_section

Message = dict[str, Any]


def _template_text(tokenizer) -> str:
    template = getattr(tokenizer, "chat_template", None) or ""
    return " ".join(template.values()) if isinstance(template, dict) else template


def native_tools(tokenizer) -> bool:
    """Whether the model's own chat template renders tools and uses the `<tool_call>` block syntax."""
    import jinja2
    from jinja2 import meta

    text = _template_text(tokenizer)
    if OPEN not in text:
        return False
    try:
        return "tools" in meta.find_undeclared_variables(jinja2.Environment().parse(text))
    except jinja2.TemplateSyntaxError:
        return False


def calls_of(message: Message) -> list[ToolCall]:
    """A message's `tool_calls` (OpenAI dicts or ToolCalls) as ToolCalls."""
    calls = []
    for call in message.get("tool_calls") or []:
        if isinstance(call, ToolCall):
            calls.append(call)
        else:
            function = call.get("function") or {}
            calls.append(ToolCall(str(call.get("id") or ""), str(function.get("name") or ""),
                                  str(function.get("arguments") or "{}")))
    return calls


def _native_messages(messages: Sequence[Message]) -> list[Message]:
    names = {c.id: c.name for m in messages for c in calls_of(m)}
    out = []
    for message in messages:
        item = {"role": message["role"], "content": message.get("content") or ""}
        if calls := calls_of(message):
            item["tool_calls"] = [{"id": c.id, "type": "function", "function": {
                "name": c.name, "arguments": arguments_object(c.arguments) or c.arguments}} for c in calls]
        if message["role"] == "tool":
            item["tool_call_id"] = message.get("tool_call_id")
            item["name"] = names.get(message.get("tool_call_id"), "")
        out.append(item)
    return out


def _fallback_messages(messages: Sequence[Message], tools: Sequence[Tool]) -> list[Message]:
    out: list[Message] = []
    for message in messages:
        role, content = message["role"], message.get("content") or ""
        if role == "tool":
            role, content = "user", result_block(content)
            if out and out[-1].get("tool_result"):  # results of one turn's calls share one user turn
                out[-1]["content"] += "\n" + content
                continue
        elif calls := calls_of(message):
            content = format_calls(calls, content)
        out.append({"role": role, "content": content, "tool_result": message["role"] == "tool"})
    if tools:
        section = system_section(tools)
        if out and out[0]["role"] == "system":
            out[0]["content"] = f"{out[0]['content']}\n\n{section}" if out[0]["content"] else section
        else:
            out.insert(0, {"role": "system", "content": section})
    return [{"role": m["role"], "content": m["content"]} for m in out]


def render(tokenizer, messages: Sequence[Message], tools: Sequence[Tool] = (), add_generation_prompt: bool = True,
           ) -> str:
    """The prompt text for `messages` with `tools` offered (raises jinja2.TemplateError / ValueError when the
    template refuses the conversation)."""
    uses_tools = bool(tools) or any(m["role"] == "tool" or m.get("tool_calls") for m in messages)
    if uses_tools and native_tools(tokenizer):
        return tokenizer.apply_chat_template(_native_messages(messages), tools=[t.openai() for t in tools] or None,
                                             tokenize=False, add_generation_prompt=add_generation_prompt)
    plain = _fallback_messages(messages, tools) if uses_tools else [
        {"role": m["role"], "content": m.get("content") or ""} for m in messages]
    return tokenizer.apply_chat_template(plain, tokenize=False, add_generation_prompt=add_generation_prompt)


def turn_text(tokenizer, messages: Sequence[Message], tools: Sequence[Tool], end: str) -> str:
    """What the model writes for `messages[-1]` (an assistant turn) after `render(messages[:-1], tools)`, up to
    its end-of-turn text `end` (not included): the training target of that turn.

    Plain answers are their content. Calls are the fallback's blocks, or, on a tools-aware template, that
    template's own text for the turn (read off a render of the whole conversation), so training teaches
    exactly what `render` shows the model and what `parse` reads back."""
    message = messages[-1]
    calls = calls_of(message)
    if not calls:
        return message.get("content") or ""
    if native_tools(tokenizer):
        prompt = render(tokenizer, messages[:-1], tools)
        whole = render(tokenizer, messages, tools, add_generation_prompt=False)
        rest = whole[len(prompt):] if whole.startswith(prompt) else ""
        if end and end in rest:
            return rest[: rest.index(end)]
    return format_calls(calls, message.get("content"))
