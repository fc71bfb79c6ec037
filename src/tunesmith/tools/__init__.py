"""Tool use (function calling): the one owner of how tools and tool calls look as text.

Training, evaluation and serving all go through this package, so a model is trained on, evaluated on and
served with the same format:

- `parse_tools(openai_tools)` → `Tool`s (names and JSON-schema parameters checked with jsonschema);
- `render(tokenizer, messages, tools)` → the prompt text: through the model's chat template when it takes
  `tools` and writes calls in the `<tool_call>` syntax, else the one fallback (`syntax.py`): the tools'
  schemas in the system prompt, each call a JSON block between `<tool_call>` and `</tool_call>`;
- `format_calls(calls)` → what an assistant turn that calls tools says; `turn_text` → the training target of
  an assistant turn for a given tokenizer (the fallback's blocks, or a tools-aware template's own text);
- `tools_of(record["tools"])` → the Tools of a stored record (parsed once per distinct list);
- `parse(text)` / `CallStream` → content and `ToolCall`s from generated text (whole or streamed);
- `validate(call, tools)` → what is wrong with a call (unknown name, arguments not matching the schema).
"""

from tunesmith.tools.parse import CallStart, CallStream, CallText, Parsed, TextPiece, collect, parse
from tunesmith.tools.render import calls_of, native_tools, render, turn_text
from tunesmith.tools.spec import Tool, ToolCall, ToolError, new_call_id, parse_tools, tools_of
from tunesmith.tools.syntax import CLOSE, OPEN, call_block, format_calls
from tunesmith.tools.validate import validate

__all__ = ["CLOSE", "OPEN", "CallStart", "CallStream", "CallText", "Parsed", "TextPiece", "Tool", "ToolCall",
           "ToolError", "call_block", "calls_of", "collect", "format_calls", "native_tools", "new_call_id", "parse",
           "parse_tools", "render", "tools_of", "turn_text", "validate"]
