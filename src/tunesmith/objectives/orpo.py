"""ORPO: supervised loss on the chosen answer plus an odds-ratio penalty on the rejected one; no reference model."""

from __future__ import annotations

from pydantic import Field

from tunesmith.objectives import losses
from tunesmith.objectives.registry import Objective, ObjectiveOptions, register


class OrpoOptions(ObjectiveOptions):
    beta: float = Field(0.1, gt=0, description="Weight of the odds-ratio term against the chosen answer's "
                        "cross-entropy.")


def loss(logps: losses.PairLogps, options: OrpoOptions):
    return losses.orpo(logps, options.beta)


OBJECTIVE = register(Objective(name="orpo", summary="Learn the chosen answers and push the rejected ones down "
                               "(odds ratio); no reference model.", data="pairs", options=OrpoOptions, loss=loss))
