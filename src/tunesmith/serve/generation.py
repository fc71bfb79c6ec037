"""A request's parameters → what the engine runs: token budget, sampling parameters per choice, the grammar
of `response_format` / `tool_choice`. Every parameter is honoured here or refused with a 400 naming it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from tunesmith.serve import constrain
from tunesmith.serve.errors import APIError
from tunesmith.serve.sampling import SamplingParams
from tunesmith.tools import Tool, ToolError, parse_tools


def refuse(param: str, why: str) -> APIError:
    return APIError(400, f"{param}: {why}", code="unsupported_parameter", param=param)


def refuse_unsupported(body) -> None:
    found = body.unsupported()
    if found:
        raise refuse(*found)


@dataclass
class ToolPlan:
    tools: list[Tool] = field(default_factory=list)  # offered to the model (rendered into the prompt)
    calls: bool = False  # answers are parsed for tool calls
    grammar: str | None = None


def _named(choice: dict[str, Any], tools: list[Tool], param: str) -> Tool:
    name = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    tool = next((t for t in tools if t.name == name), None)
    if tool is None:
        raise APIError(400, f"{param} names the function {name!r}, which is not among tools.", param=param)
    return tool


def tool_plan(body) -> ToolPlan:
    """`tools`, `tool_choice` (none | auto | required | a named function | allowed_tools) and
    `parallel_tool_calls` → the tools to render and the grammar every call is decoded under."""
    try:
        tools = parse_tools(body.tools)
    except ToolError as err:
        raise APIError(400, str(err), param=err.param) from None
    choice = body.tool_choice
    if not tools:
        for name, value in (("tool_choice", choice), ("parallel_tool_calls", body.parallel_tool_calls)):
            if value not in (None, "none"):
                raise APIError(400, f"{name} is only allowed when tools are given.", param=name)
        return ToolPlan()
    parallel = body.parallel_tool_calls is not False
    if choice in (None, "auto", "required"):
        offered, required = tools, choice == "required"
    elif choice == "none":
        return ToolPlan(tools)
    elif isinstance(choice, dict) and choice.get("type") == "function":
        offered, required, parallel = [_named(choice, tools, "tool_choice")], True, False
    elif isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        allowed = choice.get("allowed_tools") or {}
        mode = allowed.get("mode")
        if mode not in ("auto", "required"):
            raise APIError(400, "tool_choice.allowed_tools.mode must be auto or required.",
                           param="tool_choice.allowed_tools.mode")
        offered = [_named(t, tools, "tool_choice.allowed_tools.tools") for t in allowed.get("tools") or []]
        if not offered:
            raise APIError(400, "tool_choice.allowed_tools.tools is empty.", param="tool_choice.allowed_tools.tools")
        required = mode == "required"
    else:
        raise APIError(400, "tool_choice must be none, auto, required, {type: function, function: {name}} or "
                       "{type: allowed_tools, ...}.", param="tool_choice")
    return ToolPlan(tools, True, constrain.tools_grammar(offered, required, parallel))


def format_grammar(response_format) -> str | None:
    """`response_format` json_object / json_schema → its grammar (text: none)."""
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return constrain.json_grammar(None)
    schema = response_format.json_schema.json_schema
    if schema is not None:
        from jsonschema import SchemaError
        from jsonschema.validators import validator_for

        try:
            validator_for(schema).check_schema(schema)
        except SchemaError as err:
            raise APIError(400, f"response_format.json_schema.schema is not a valid JSON schema: {err.message}",
                           param="response_format.json_schema.schema") from None
    return constrain.json_grammar(schema)


def choose_grammar(body, plan: ToolPlan) -> tuple[str | None, str | None]:
    """(grammar, the parameter it came from): response_format or tool calls, never both."""
    answer_format = format_grammar(getattr(body, "response_format", None))
    if answer_format is not None and plan.calls:
        raise APIError(400, "response_format json_object/json_schema cannot be combined with tool calls; send "
                       'tool_choice: "none" or leave response_format out.', param="response_format")
    if answer_format is not None:
        return answer_format, "response_format"
    return plan.grammar, ("tools" if plan.grammar else None)


def budget(asked: int | None, prompt_tokens: int, context: int, default: int, limit: int) -> int:
    """The answer's max_tokens: asked for, within the server's limit and the model's context."""
    if asked is not None and asked > limit:
        raise APIError(400, f"max_tokens is {asked}; this server allows at most {limit}.", param="max_tokens",
                       code="invalid_value")
    room = context - prompt_tokens
    if room < 1 or (asked is not None and asked > room):
        raise APIError(400, f"This model's maximum context length is {context} tokens; the prompt has "
                       f"{prompt_tokens} and {asked or 1} more were requested.", param="messages",
                       code="context_length_exceeded")
    return asked or min(default, room)


def sampling(body, max_tokens: int, logprobs: int | None, grammar: str | None, vocab: int,
             count: int, contract=None) -> list[SamplingParams]:
    """One SamplingParams per choice; choice i samples with seed + i (choice 0 equals an n=1 request).

    A model's inference contract supplies what the request leaves out: its temperature (evaluation's greedy
    decoding, not OpenAI's 1.0) and its stop strings (not under a grammar, which they could cut short)."""
    bias = tuple((int(token), float(value)) for token, value in (body.logit_bias or {}).items())
    if any(token >= vocab for token, _ in bias):
        raise APIError(400, f"logit_bias names a token id beyond the vocabulary ({vocab} tokens).",
                       param="logit_bias")
    temperature = body.temperature
    stops = body.stops
    if contract is not None:
        if "temperature" not in body.model_fields_set:
            temperature = contract.temperature
        if "stop" not in body.model_fields_set and grammar is None:
            stops = tuple(contract.stop)
    base = SamplingParams(max_tokens, temperature, body.top_p, stops, body.seed, logprobs, bias,
                          body.presence_penalty, body.frequency_penalty, grammar)
    return [replace(base, seed=None if body.seed is None else body.seed + i) for i in range(count)]


def refuse_for_backend(engine, backend: str, body, grammar_origin: str | None) -> None:
    """What the engine cannot do is a 400 naming the parameter (llama.cpp: no logprobs, no logits processors)."""
    processors = getattr(engine, "supports_logits_processors", True)
    asks = [("logprobs", body.logprob_count is not None, engine.supports_logprobs),
            ("best_of", (getattr(body, "best_of", None) or 1) > body.n, engine.supports_logprobs),
            (grammar_origin, grammar_origin is not None, processors),
            ("logit_bias", bool(body.logit_bias), processors),
            ("presence_penalty", body.presence_penalty != 0, processors),
            ("frequency_penalty", body.frequency_penalty != 0, processors)]
    for param, asked, available in asks:
        if asked and not available:
            raise refuse(param, f"not available from the {backend} backend; leave it out, or serve with "
                         "serve.backend: torch.")
