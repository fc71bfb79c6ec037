"""Supervised fine-tuning: next-token cross-entropy on the demonstrated answers (the default objective)."""

from __future__ import annotations

from tunesmith.objectives.registry import Objective, register

OBJECTIVE = register(Objective(name="sft", summary="Learn the demonstrated answers (cross-entropy).",
                               data="demonstrations", options=None))
