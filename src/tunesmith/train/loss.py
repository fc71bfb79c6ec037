"""Summed losses for one micro-batch; the loop divides by the step-wide target count.

Summing here and dividing once per optimizer step makes gradient accumulation and multi-process
training give the same gradient as one big batch. Causal LMs score only positions that carry a
label: the vocabulary projection (the largest activation on small models) is computed for those rows
alone, unless the method prepends virtual tokens or the model is sharded (fsdp gathers weights in the
whole model's forward): then the model's own forward runs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tunesmith.train.encode import IGNORE


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers model inside PEFT wrappers."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _can_skip_logits(model: torch.nn.Module) -> bool:
    base = unwrap(model)
    config = base.config
    plain_head = not getattr(config, "final_logit_softcapping", None) and not hasattr(config, "logit_scale")
    if not plain_head or not hasattr(base, "get_decoder") or base.get_output_embeddings() is None:
        return False
    return base.get_decoder() is not base


def causal_loss_sum(model: torch.nn.Module, batch: dict, virtual_tokens: bool) -> tuple[torch.Tensor, int]:
    """Sum of next-token cross-entropy over labelled positions, and how many there were."""
    labels = batch["labels"][:, 1:]
    keep = labels != IGNORE
    if not virtual_tokens and _can_skip_logits(model):
        base = unwrap(model)
        hidden = base.get_decoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                    use_cache=False).last_hidden_state
        logits = base.get_output_embeddings()(hidden[:, :-1][keep])
        return F.cross_entropy(logits.float(), labels[keep], reduction="sum"), int(keep.sum())
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False)
    logits = out.logits[:, -batch["input_ids"].shape[1]:-1]  # drop virtual-token positions, if any
    return F.cross_entropy(logits[keep].float(), labels[keep], reduction="sum"), int(keep.sum())


def classification_loss_sum(model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, int, int]:
    """Summed cross-entropy, examples, and correct predictions."""
    extra = {"token_type_ids": batch["token_type_ids"]} if "token_type_ids" in batch else {}
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **extra).logits
    loss = F.cross_entropy(logits.float(), batch["labels"], reduction="sum")
    correct = int((logits.argmax(-1) == batch["labels"]).sum())
    return loss, len(batch["labels"]), correct


def loss_sum(model: torch.nn.Module, batch: dict, task: str, virtual_tokens: bool) -> tuple[torch.Tensor, int, int]:
    """(summed loss, targets, correct) for any task; `correct` is 0 for language modelling."""
    if task == "classification":
        return classification_loss_sum(model, batch)
    loss, targets = causal_loss_sum(model, batch, virtual_tokens)
    return loss, targets, 0
