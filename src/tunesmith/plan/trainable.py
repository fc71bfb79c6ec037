"""How many parameters a fine-tuning method trains, from the model's shape alone (pure).

Each method counts its own (`Method.costs.trainable` in tunesmith.methods); a new classification head is
added here, since every method trains it whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tunesmith.methods import get_method
from tunesmith.plan.shapes import ModelShape

if TYPE_CHECKING:
    from tunesmith.methods import MethodOptions


def classifier_head(shape: ModelShape, labels: int) -> int:
    """A new sequence-classification head is always trained (with a bias on encoders)."""
    if not labels:
        return 0
    return shape.hidden * labels + (labels if shape.kind == "encoder" else 0)


def trainable_params(shape: ModelShape, method: MethodOptions, labels: int = 0) -> int:
    """Parameters that get gradients and optimizer state; a classification head adds its own (`labels`: a
    classification task), and full fine-tuning of an encoder classifier leaves the token embeddings out."""
    from tunesmith.methods.full import frozen_embeddings

    frozen = shape.vocab * shape.hidden if frozen_embeddings(method, "classification" if labels else None,
                                                              shape.kind) else 0
    return get_method(method.name).costs.trainable(shape, method) - frozen + classifier_head(shape, labels)
