"""`training.objective` and the `preference` section: each preference objective's own options.

The objectives (tunesmith.objectives, one module each) declare their options; this module gathers them, so a
new objective needs no edit here: `preference: {dpo: {beta: 0.1, loss: ipo}, kto: {...}, orpo: {...}, ...}`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, create_model

from tunesmith.config.base import Section
from tunesmith.objectives.registry import discover

OBJECTIVES = discover()
ObjectiveName = Literal[tuple(OBJECTIVES)]  # type: ignore[valid-type]

PreferenceConfig = create_model(
    "PreferenceConfig", __base__=Section, __doc__="Options of each preference objective (training.objective).",
    **{name: (objective.options, Field(default_factory=objective.options, description=objective.summary))
       for name, objective in OBJECTIVES.items() if objective.options is not None})
