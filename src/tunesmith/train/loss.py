"""Summed losses for one micro-batch; the loop divides by the step-wide target count.

Summing here and dividing once per optimizer step makes gradient accumulation and multi-process
training give the same gradient as one big batch. Causal LMs score only positions that carry a
label, and the vocabulary projection (the largest activation on small models: a [targets × vocab]
matrix) is never materialised whole: `linear_cross_entropy` computes it a few hundred rows at a time
and works out each chunk's gradient on the spot, so memory stays flat in targets × vocabulary. The
model's own forward (with whole logits) runs only when the method prepends virtual tokens, the model
is sharded (fsdp gathers weights in the whole model's forward) or its head is not a plain linear layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tunesmith.train.encode import IGNORE

# fp32 logits alive at once in the vocabulary projection (a 49k vocabulary: ~340 rows a chunk).
LOGIT_CHUNK_BYTES = 64 * 2**20


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


def chunk_rows(vocab: int) -> int:
    """Rows of logits per chunk."""
    return max(1, LOGIT_CHUNK_BYTES // (4 * vocab))


def _chunks(hidden, weight, bias, labels):
    """(rows, fp32 logits, log-sum-exp) for each chunk of rows."""
    step = chunk_rows(weight.shape[0])
    for start in range(0, hidden.shape[0], step):
        rows = slice(start, start + step)
        logits = F.linear(hidden[rows], weight, bias).float()
        yield rows, logits, torch.logsumexp(logits, dim=-1)


def _loss(logits, lse, labels) -> torch.Tensor:
    return (lse - logits.gather(1, labels[:, None]).squeeze(1)).sum()


class _LinearCrossEntropy(torch.autograd.Function):
    """Σ cross_entropy(hidden @ weightᵀ + bias, labels); gradients computed chunk by chunk in the forward
    pass (softmax − one-hot, projected back), so no chunk's logits outlive it."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, labels):
        need_hidden, need_weight, need_bias = ctx.needs_input_grad[:3]
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        grad_hidden = torch.empty_like(hidden) if need_hidden else None
        grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_weight else None
        grad_bias = torch.zeros(bias.shape, dtype=torch.float32, device=bias.device) if need_bias else None
        for rows, logits, lse in _chunks(hidden, weight, bias, labels):
            chunk_labels = labels[rows]
            total += _loss(logits, lse, chunk_labels)
            probs = logits.sub_(lse[:, None]).exp_()  # in place: the chunk's softmax
            probs[torch.arange(len(chunk_labels), device=probs.device), chunk_labels] -= 1.0
            if need_bias:
                grad_bias += probs.sum(0)
            if need_weight:  # accumulated in fp32, before the chunk is rounded to the weights' dtype
                grad_weight.addmm_(probs.t(), hidden[rows].float())
            if need_hidden:
                grad_hidden[rows] = probs.to(weight.dtype) @ weight
        ctx.save_for_backward(grad_hidden, grad_weight, grad_bias)
        ctx.dtypes = (weight.dtype, bias.dtype if bias is not None else None)
        return total

    @staticmethod
    def backward(ctx, grad_total):
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        scale = grad_total.float()
        return (grad_hidden * scale.to(grad_hidden.dtype) if grad_hidden is not None else None,
                (grad_weight * scale).to(ctx.dtypes[0]) if grad_weight is not None else None,
                (grad_bias * scale).to(ctx.dtypes[1]) if grad_bias is not None else None,
                None)


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                         labels: torch.Tensor) -> torch.Tensor:
    """Summed cross-entropy of `labels` under the logits `hidden @ weight.T + bias` ([rows, vocab]),
    equal to `F.cross_entropy(F.linear(hidden, weight, bias).float(), labels, reduction="sum")` in value
    and gradients, without ever holding more than one chunk of logits."""
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (hidden, weight, bias)):
        return _LinearCrossEntropy.apply(hidden, weight, bias, labels)
    total = torch.zeros((), dtype=torch.float32, device=hidden.device)
    for rows, logits, lse in _chunks(hidden, weight, bias, labels):
        total += _loss(logits, lse, labels[rows])
    return total


def _plain_head(base: torch.nn.Module) -> torch.nn.Linear | None:
    head = base.get_output_embeddings()
    return head if type(head) is torch.nn.Linear else None


def causal_loss_sum(model: torch.nn.Module, batch: dict, virtual_tokens: bool) -> tuple[torch.Tensor, int]:
    """Sum of next-token cross-entropy over labelled positions, and how many there were."""
    labels = batch["labels"][:, 1:]
    keep = labels != IGNORE
    if not virtual_tokens and _can_skip_logits(model):
        base = unwrap(model)
        hidden = base.get_decoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                    use_cache=False).last_hidden_state[:, :-1][keep]
        head = _plain_head(base)
        if head is not None:
            return linear_cross_entropy(hidden, head.weight, head.bias, labels[keep]), int(keep.sum())
        logits = base.get_output_embeddings()(hidden)
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
