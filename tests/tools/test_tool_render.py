"""tools.render: the fallback (tools in the system prompt, `<tool_call>` blocks) and a native template."""

from __future__ import annotations

import json

from tunesmith.tools import OPEN, ToolCall, format_calls, native_tools, parse, parse_tools, render

TOOLS = parse_tools([{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
CALL = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [CALL.openai()]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C, sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "(second result)"}]


def test_without_tools_the_prompt_is_the_plain_template(tokenizer):
    messages = CHAT[:2]
    assert render(tokenizer, messages) == tokenizer.apply_chat_template(messages, tokenize=False,
                                                                        add_generation_prompt=True)


def test_fallback_puts_schemas_in_the_system_prompt_and_calls_in_blocks(tokenizer):
    assert not native_tools(tokenizer)
    text = render(tokenizer, CHAT, TOOLS)
    system = text[: text.index("<|im_end|>")]
    assert system.startswith("<|im_start|>system\nBe brief.\n\n# Tools")
    assert json.dumps(TOOLS[0].openai()) in system
    assert format_calls([CALL]) in text
    assert text.count("<tool_response>") == 2 and text.count("<|im_start|>user") == 2, "results share one turn"
    assert text.endswith("<|im_start|>assistant\n")


def test_fallback_adds_a_system_turn_when_there_is_none(tokenizer):
    text = render(tokenizer, CHAT[1:2], TOOLS)
    assert text.startswith("<|im_start|>system\n# Tools") and "SmolLM" not in text


def test_native_template_renders_tools_itself(hermes):
    assert native_tools(hermes)
    text = render(hermes, CHAT, TOOLS)
    assert "<tools>" in text and "# Tools" not in text
    assert f'{OPEN}\n{{"name": "get_weather", "arguments": {{"city": "Paris"}}}}' in text
    assert parse(text[text.index(OPEN): text.index("</tool_call>") + 12]).calls[0].name == "get_weather"


def test_training_target_round_trips(tokenizer):
    """What training will put in an assistant turn is what parse reads back."""
    whole = render(tokenizer, CHAT[:3], TOOLS, add_generation_prompt=False)
    answer = whole[whole.rindex("<|im_start|>assistant\n") + 22: whole.rindex("<|im_end|>")]
    assert parse(answer).calls[0].arguments == CALL.arguments
