"""KTO: learn from answers rated good or bad one at a time (no pairs needed), relative to the reference model."""

from __future__ import annotations

from pydantic import Field

from tunesmith.objectives import losses
from tunesmith.objectives.registry import Objective, ObjectiveOptions, register


class KtoOptions(ObjectiveOptions):
    beta: float = Field(0.1, gt=0, description="Strength of the pull towards the reference model.")
    desirable_weight: float = Field(1.0, gt=0, description="Weight of answers rated good (raise it when "
                                    "good ratings are rarer than bad ones).")
    undesirable_weight: float = Field(1.0, gt=0, description="Weight of answers rated bad.")


def loss(logps: losses.RatedLogps, options: KtoOptions):
    return losses.kto(logps, options.beta, options.desirable_weight, options.undesirable_weight)


OBJECTIVE = register(Objective(name="kto", summary="Learn from answers rated good or bad, one at a time.",
                               data="ratings", options=KtoOptions, loss=loss, reference=True, kl_pass=True))
