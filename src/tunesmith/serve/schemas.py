"""Request bodies of the OpenAI-compatible API. Unknown fields are ignored, as OpenAI's server does."""

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
    """Every request body of the API: unknown fields ignored, text that is not valid Unicode refused."""

    model_config = ConfigDict(extra="ignore")

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


class ChatMessage(RequestBody):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]

    def plain(self) -> dict[str, str]:
        text = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        return {"role": "system" if self.role == "developer" else self.role, "content": text}


class StreamOptions(RequestBody):
    include_usage: bool = False


class _Generation(RequestBody):
    model: str = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=-(2**63), le=2**63 - 1, description="A signed 64-bit integer.")
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=1, description="Only one choice per request is supported.")

    @field_validator("stop")
    @classmethod
    def _at_most_four(cls, value):
        stops = [value] if isinstance(value, str) else list(value or [])
        if len(stops) > 4:
            raise ValueError("at most 4 stop sequences are allowed")
        return stops

    @property
    def stops(self) -> tuple[str, ...]:
        return tuple(s for s in (self.stop or []) if s)


class ChatRequest(_Generation):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool | None = Field(False, description="Return each answer token's log-probability.")
    top_logprobs: int | None = Field(None, ge=0, le=20, description="Also list this many most likely tokens "
                                     "per position (needs logprobs: true).")

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
    prompt: str | list[str]
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    logprobs: StrictInt | None = Field(None, ge=0, le=5, description="Return each token's log-probability and "
                                       "this many most likely alternatives (0-5).")
    echo: bool = Field(False, description="Not supported: the answer never repeats the prompt.")

    @field_validator("echo")
    @classmethod
    def _no_echo(cls, value):
        if value:
            raise ValueError("echo is not supported; send the prompt's text yourself if you need it")
        return value

    @property
    def logprob_count(self) -> int | None:
        return self.logprobs

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, value):
        if isinstance(value, list):
            if len(value) != 1:
                raise ValueError("send exactly one prompt per request")
            value = value[0]
        if not value:
            raise ValueError("the prompt is empty")
        return value


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
