"""Request bodies of the OpenAI-compatible API.

Every field is honoured or refused: unknown fields are a 400 naming them (as OpenAI's own server answers
"Unrecognized request argument"), and the SDK parameters this server cannot honour are declared here with
the values that mean "not used" (`UNSUPPORTED`), so that anything else is a 400 naming the parameter.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator, model_validator


def lone_surrogate(value: Any, where: str = "") -> str | None:
    """Where in JSON data (`messages.0.content`) a string is not valid Unicode, or None. JSON's `\\ud800`
    escapes can carry lone surrogates, which no tokenizer, database or UTF-8 encoder takes."""
    if isinstance(value, str):
        return where if any(0xD800 <= ord(c) <= 0xDFFF for c in value) else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        place = f"{where}.{key}" if where else str(key)
        found = lone_surrogate(key, place) if isinstance(key, str) else None
        found = found if found is not None else lone_surrogate(item, place)
        if found is not None:
            return found
    return None


def unicode_problem(where: str) -> str:
    where = where.encode("utf-8", "backslashreplace").decode("utf-8")  # a key may hold the surrogate itself
    return f"{where or 'the body'} is not valid Unicode text (a lone surrogate such as \\ud800); send UTF-8 text"


class RequestBody(BaseModel):
    """Every request body of the API: unknown fields refused (400), text that is not valid Unicode refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        where = lone_surrogate(data)
        if where is not None:
            raise ValueError(unicode_problem(where))
        return data


class TextPart(RequestBody):
    type: Literal["text"]
    text: str


class CalledFunction(RequestBody):
    name: str
    arguments: str


class MessageToolCall(RequestBody):
    id: str
    type: Literal["function"] = "function"
    function: CalledFunction


class ChatMessage(RequestBody):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    tool_calls: list[MessageToolCall] | None = None
    tool_call_id: str | None = None

    @model_validator(mode="after")
    def _shape(self):
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only assistant messages carry tool_calls")
        if (self.role == "tool") != (self.tool_call_id is not None):
            raise ValueError("tool messages, and only they, need tool_call_id")
        if self.content is None and not self.tool_calls:
            raise ValueError("content is required (null only in an assistant message with tool_calls)")
        return self

    def plain(self) -> dict[str, Any]:
        """The message as tunesmith.tools.render takes it."""
        text = self.content if isinstance(self.content, str) or self.content is None else "".join(
            p.text for p in self.content)
        message: dict[str, Any] = {"role": "system" if self.role == "developer" else self.role, "content": text}
        if self.tool_calls:
            message["tool_calls"] = [c.model_dump() for c in self.tool_calls]
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        return message


class StreamOptions(RequestBody):
    include_usage: bool = False
    include_obfuscation: bool = Field(False, description="Pad each streamed chunk with a random `obfuscation` "
                                      "field, so chunk sizes do not reveal the tokens.")


class JSONSchemaFormat(RequestBody):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    json_schema: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class ResponseFormat(RequestBody):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JSONSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self):
        if (self.type == "json_schema") != (self.json_schema is not None):
            raise ValueError("json_schema is required with type json_schema, and only then")
        return self


# parameter → (values that mean "not used", why anything else is refused)
UNSUPPORTED: dict[str, tuple[tuple[Any, ...], str]] = {
    "audio": ((None,), "audio output is not supported: the served models write text"),
    "modalities": ((None, ["text"]), 'only text output is supported: send ["text"] or leave modalities out'),
    "functions": ((None,), "functions is deprecated: send tools"),
    "function_call": ((None,), "function_call is deprecated: send tool_choice"),
    "metadata": ((None,), "this server keeps no stored completions for metadata to tag"),
    "store": ((None, False), "this server keeps no stored completions"),
    "moderation": ((None,), "this server runs no moderation"),
    "prediction": ((None,), "predicted outputs are not supported"),
    "prompt_cache_key": ((None,), "prefix reuse is automatic here and needs no key"),
    "prompt_cache_options": ((None,), "prefix reuse is automatic here and takes no options"),
    "prompt_cache_retention": ((None,), "prefix reuse is automatic here and takes no retention"),
    "reasoning_effort": ((None,), "the served models have no reasoning effort setting"),
    "safety_identifier": ((None,), "this server records no end-user identifiers"),
    "user": ((None,), "this server records no end-user identifiers"),
    "service_tier": ((None, "auto", "default"), "this server has one service tier: default"),
    "verbosity": ((None,), "the served models have no verbosity setting"),
    "web_search_options": ((None,), "web search is not available"),
    "suffix": ((None, ""), "inserting text before a suffix is not supported"),
}


class _Generation(RequestBody):
    model: str = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=-(2**63), le=2**63 - 1, description="A signed 64-bit integer; choice i of "
                             "a request uses seed + i.")
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=128, description="Choices per prompt, sampled independently from one prefill.")
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    logit_bias: dict[str, float] | None = Field(None, description="Token id → bias (-100 to 100) added to its logit.")
    user: Any = None
    service_tier: Any = None

    @field_validator("stop")
    @classmethod
    def _at_most_four(cls, value):
        stops = [value] if isinstance(value, str) else list(value or [])
        if len(stops) > 4:
            raise ValueError("at most 4 stop sequences are allowed")
        return stops

    @field_validator("logit_bias")
    @classmethod
    def _token_ids(cls, value):
        for key, bias in (value or {}).items():
            if not key.isdigit():
                raise ValueError(f"keys are token ids; {key!r} is not one")
            if not -100 <= bias <= 100:
                raise ValueError(f"biases lie between -100 and 100; token {key} has {bias}")
        return value

    @property
    def stops(self) -> tuple[str, ...]:
        return tuple(s for s in (self.stop or []) if s)

    def unsupported(self) -> tuple[str, str] | None:
        """(parameter, why) for the first parameter set to something this server cannot honour."""
        for name, (unused, why) in UNSUPPORTED.items():
            if name in type(self).model_fields and getattr(self, name) not in unused:
                return name, why
        return None


class ChatRequest(_Generation):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool | None = Field(False, description="Return each answer token's log-probability.")
    top_logprobs: int | None = Field(None, ge=0, le=20, description="Also list this many most likely tokens "
                                     "per position (needs logprobs: true).")
    tools: list[dict[str, Any]] | None = Field(None, description="Function tools (tunesmith.tools.parse_tools).")
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    audio: Any = None
    modalities: Any = None
    functions: Any = None
    function_call: Any = None
    metadata: Any = None
    store: Any = None
    moderation: Any = None
    prediction: Any = None
    prompt_cache_key: Any = None
    prompt_cache_options: Any = None
    prompt_cache_retention: Any = None
    reasoning_effort: Any = None
    safety_identifier: Any = None
    verbosity: Any = None
    web_search_options: Any = None

    @field_validator("top_logprobs")
    @classmethod
    def _needs_logprobs(cls, value, info: ValidationInfo):
        if value is not None and not info.data.get("logprobs"):
            raise ValueError("top_logprobs needs logprobs: true")
        return value

    @property
    def logprob_count(self) -> int | None:
        return (self.top_logprobs or 0) if self.logprobs else None


class CompletionRequest(_Generation):
    prompt: str | list[str] | list[int] | list[list[int]] = Field(
        description="A prompt, a list of prompts, or prompts as token ids (one list, or a list of lists).")
    logprobs: StrictInt | None = Field(None, ge=0, le=5, description="Return each token's log-probability and "
                                       "this many most likely alternatives (0-5).")
    echo: bool = Field(False, description="Start each choice's text with its prompt.")
    best_of: int | None = Field(None, ge=1, le=20, description="Sample this many choices per prompt and return "
                                "the n with the highest mean token log-probability.")
    suffix: Any = None

    @field_validator("prompt")
    @classmethod
    def _prompts(cls, value):
        prompts = [value] if isinstance(value, str) or (value and isinstance(value[0], int)) else list(value)
        if not prompts or len(prompts) > 64:
            raise ValueError("send 1 to 64 prompts")
        if any(not p for p in prompts):
            raise ValueError("a prompt is empty")
        return prompts

    @field_validator("echo")
    @classmethod
    def _echo_without_logprobs(cls, value, info: ValidationInfo):
        if value and info.data.get("logprobs") is not None:
            raise ValueError("echo with logprobs is not supported (the prompt's tokens have no logprobs here)")
        return value

    @field_validator("best_of")
    @classmethod
    def _best_of(cls, value, info: ValidationInfo):
        if value is not None and value < info.data.get("n", 1):
            raise ValueError(f"best_of ({value}) must be at least n ({info.data.get('n', 1)})")
        if value and value > 1 and info.data.get("stream"):
            raise ValueError("best_of cannot be streamed (the best choices are known only at the end)")
        return value

    @property
    def prompts(self) -> list[str | list[int]]:
        return self.prompt  # normalised by the validator

    @property
    def logprob_count(self) -> int | None:
        return self.logprobs


class ClassificationRequest(RequestBody):
    model: str = Field(min_length=1)
    input: str | list[str]

    @field_validator("input")
    @classmethod
    def _non_empty(cls, value):
        texts = [value] if isinstance(value, str) else value
        if not texts or any(not t for t in texts):
            raise ValueError("input must be a non-empty string or list of non-empty strings")
        if len(texts) > 256:
            raise ValueError("at most 256 inputs per request")
        return texts
