"""The tools tests' tokenizers: the bundled model's (no tools in its template) and a Hermes-style one."""

from __future__ import annotations

import copy

import pytest

# A Hermes-style template (as Qwen2.5's): tools in the system turn, calls as <tool_call> blocks.
HERMES = (
    "{%- if tools %}<|im_start|>system\n{{ messages[0].content if messages[0].role == 'system' else '' }}\n"
    "<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools><|im_end|>\n{%- endif %}"
    "{%- for m in messages %}{%- if m.role == 'system' and tools %}{%- elif m.role == 'tool' %}"
    "<|im_start|>user\n<tool_response>{{ m.content }}</tool_response><|im_end|>\n"
    "{%- elif m.tool_calls %}<|im_start|>assistant\n{% for c in m.tool_calls %}<tool_call>\n"
    "{{ {'name': c.function.name, 'arguments': c.function.arguments} | tojson }}\n</tool_call>{% endfor %}"
    "<|im_end|>\n{%- else %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}")


@pytest.fixture(scope="module")
def tokenizer():
    from tunesmith.models.tiny import real_tokenizer

    return real_tokenizer("smollm2-135m-instruct")


@pytest.fixture(scope="module")
def hermes(tokenizer):
    native = copy.deepcopy(tokenizer)
    native.chat_template = HERMES
    return native
