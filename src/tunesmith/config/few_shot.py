"""Classification with few examples per class: the SetFit-style `embedding` recipe and when it is chosen."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunesmith.config.base import Section


class FewShotConfig(Section):
    recipe: Literal["auto", "head", "embedding", "pooled"] = Field(
        "auto", description="How a classification project trains. head: the model with transformers' "
        "classification layer, fine-tuned end to end. pooled: a sentence encoder's own embedding (its pooling) "
        "under a linear head that is first fitted on the frozen embeddings, then fine-tuned end to end with the "
        "encoder (fewer epochs to a better model when the encoder was trained to pool, e.g. minilm-l6). "
        "embedding (SetFit-style): the encoder is first tuned so that texts of one label embed close together "
        "and texts of different labels apart (pairs of training texts, cosine loss), then a logistic-regression "
        "head is fitted on its embeddings; it learns more from a few examples per class. auto: embedding when "
        "the median class has fewer than few_shot.embedding_below training examples and the model is an "
        "encoder; otherwise pooled when the model is a sentence-transformers encoder (it declares a pooling), "
        "head for anything else (`tunesmith plan` says which and why). pooled and embedding runs are served and "
        "evaluated like any classifier and export as a sentence-transformers folder whose last module is the head "
        "(its encode gives the logits); head exports a transformers sequence classifier.")
    embedding_below: int = Field(
        30, ge=1, description="recipe auto picks embedding when the median class has fewer training examples "
        "than this.")
    pairs_per_example: int = Field(
        10, ge=2, description="embedding recipe: contrastive pairs drawn per training text, half with a text of "
        "the same label (target similarity 1), half with a text of another label (0).")
    epochs: int = Field(1, ge=1, description="embedding recipe: passes over the contrastive pairs.")
    learning_rate: float = Field(2e-5, gt=0, allow_inf_nan=False,
                                 description="embedding recipe: learning rate of the contrastive stage.")
    batch_size: int = Field(16, ge=1, description="embedding recipe: pairs per step of the contrastive stage.")
    compare_head: bool = Field(
        True, description="`tunesmith eval` of an embedding-recipe run also trains the plain classification head "
        "on the same training split and reports it beside the run (paired test, verdict).")
