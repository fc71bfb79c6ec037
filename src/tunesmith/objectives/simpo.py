"""SimPO: prefer the chosen answer by a margin in mean per-token log-probability; no reference model."""

from __future__ import annotations

from pydantic import Field

from tunesmith.objectives import losses
from tunesmith.objectives.registry import Objective, ObjectiveOptions, register


class SimpoOptions(ObjectiveOptions):
    beta: float = Field(2.0, gt=0, description="Scale of the length-normalised reward.")
    gamma: float = Field(1.0, ge=0, description="Target reward margin between chosen and rejected answers.")
    label_smoothing: float = Field(0.0, ge=0, lt=0.5, description="Share of pairs assumed mislabelled.")


def loss(logps: losses.PairLogps, options: SimpoOptions):
    return losses.simpo(logps, options.beta, options.gamma, options.label_smoothing)


OBJECTIVE = register(Objective(name="simpo", summary="Prefer chosen answers by a margin in mean log-probability; "
                               "no reference model.", data="pairs", options=SimpoOptions, loss=loss))
