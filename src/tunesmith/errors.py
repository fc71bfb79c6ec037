"""Errors a user can act on: one line that says what went wrong and what to do."""

from __future__ import annotations


class TunesmithError(Exception):
    """An expected failure caused by input or environment; the CLI prints it as one line."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        """'message. Hint': a message without closing punctuation gets a period, so the two never run together."""
        if not self.hint:
            return self.message
        message = self.message.rstrip()
        closed = message.endswith((".", "!", "?", "…")) or not message
        return f"{message}{'' if closed else '.'} {self.hint.strip()}"


class ConfigError(TunesmithError):
    """The project file or a CLI override is invalid."""


class ModelNotFoundError(TunesmithError):
    """A model name is neither in the catalog nor a local Hugging Face folder."""


class DataError(TunesmithError):
    """Input data cannot be read or has no usable records."""
