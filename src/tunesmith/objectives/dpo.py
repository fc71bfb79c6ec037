"""DPO: prefer the chosen answer over the rejected one relative to the reference model (IPO as a loss variant)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunesmith.objectives import losses
from tunesmith.objectives.registry import Objective, ObjectiveOptions, register


class DpoOptions(ObjectiveOptions):
    beta: float = Field(0.1, gt=0, description="Strength of the pull towards the reference model (smaller: the "
                        "model may move further from it).")
    loss: Literal["sigmoid", "ipo"] = Field("sigmoid", description="sigmoid: the DPO paper's loss; ipo: IPO's "
                                            "squared loss on per-token log-ratios (less prone to overfitting "
                                            "deterministic preferences).")
    label_smoothing: float = Field(0.0, ge=0, lt=0.5, description="Share of pairs assumed mislabelled "
                                   "(conservative DPO); sigmoid loss only.")
    sft_weight: float = Field(0.0, ge=0, description="Weight of the chosen answers' cross-entropy added to the loss "
                              "(RPO; TRL's loss_type [sigmoid, sft]): keeps the chosen answers likely, not only "
                              "likelier than the rejected ones; 1.0 when the chosen answers are ones the model "
                              "would not write yet, e.g. corrections.")


def loss(logps: losses.PairLogps, options: DpoOptions):
    if options.loss == "ipo":
        per_pair, chosen, rejected = losses.ipo(logps, options.beta)
    else:
        per_pair, chosen, rejected = losses.dpo(logps, options.beta, options.label_smoothing)
    if options.sft_weight:
        per_pair = per_pair + options.sft_weight * losses.chosen_nll(logps)
    return per_pair, chosen, rejected


OBJECTIVE = register(Objective(name="dpo", summary="Prefer chosen over rejected answers, relative to the "
                               "reference model.", data="pairs", options=DpoOptions, loss=loss, reference=True))
