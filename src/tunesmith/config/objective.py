"""What the user wants the model to do: recorded in the project file, used to pick a recipe."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunesmith.config.base import Section

Task = Literal["chat", "classification", "text", "embedding"]


class ObjectiveConfig(Section):
    task: Task = Field("chat", description="chat: instruction/chat tuning; classification: text -> label; "
                       "text: continued pretraining on raw text; embedding: an encoder that "
                       "puts a query next to the document that answers it (retrieval, semantic search).")
    description: str = Field("", description="The problem the model solves, in one or two sentences.")
    users: str = Field("", description="Who uses the model.")
    expected_output: str = Field("", description="What a good answer looks like (style, length, format).")
    system_prompt: str | None = Field(
        None, description="The system prompt the fine-tuned model is trained, evaluated and deployed with: added to "
        "every training conversation and every request that brings no system message of its own (a request's own "
        "overrides it), and written into every export (chat template, Modelfile SYSTEM). Unset (the default): "
        "the system prompt all training conversations share, when they do (detected at train time and recorded "
        "in the run). An empty string: no system prompt.")
