"""Preference losses as pure functions of per-sequence log-probabilities (tested against TRL's on the same inputs).

Each takes summed log-probs of the answer tokens (and their counts), returns per-example losses and the
implicit rewards of the chosen and rejected answers. Written here rather than called from TRL because
TRL computes them inside its trainers' `compute_loss` (DPO, KTO) from its own batches and model calls;
the loss is the only part the one training loop needs (tests/objectives/test_losses.py compares them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@dataclass
class PairLogps:
    """A batch of pairs: summed log-probs of the chosen and rejected answers, their token counts, and the
    reference model's summed log-probs (None for reference-free objectives)."""

    chosen: torch.Tensor
    rejected: torch.Tensor
    chosen_tokens: torch.Tensor
    rejected_tokens: torch.Tensor
    ref_chosen: torch.Tensor | None = None
    ref_rejected: torch.Tensor | None = None

    @property
    def chosen_mean(self) -> torch.Tensor:
        return self.chosen / self.chosen_tokens.clamp(min=1)

    @property
    def rejected_mean(self) -> torch.Tensor:
        return self.rejected / self.rejected_tokens.clamp(min=1)


@dataclass
class RatedLogps:
    """A batch of rated answers (KTO): summed log-probs, desirable flags, the reference's log-probs, and the
    log-probs of mismatched prompt/answer pairs under the policy and the reference (the KL baseline)."""

    logps: torch.Tensor
    desirable: torch.Tensor  # bool
    ref: torch.Tensor
    kl: torch.Tensor
    ref_kl: torch.Tensor


def dpo(p: PairLogps, beta: float, label_smoothing: float = 0.0):
    """DPO (sigmoid): -log σ(β·[(log π_c - log π_ref,c) - (log π_r - log π_ref,r)]), with conservative label
    smoothing ε (cDPO): (1-ε)·that + ε·(-log σ(-β·...))."""
    import torch.nn.functional as F

    chosen_ratio, rejected_ratio = p.chosen - p.ref_chosen, p.rejected - p.ref_rejected
    delta = chosen_ratio - rejected_ratio
    losses = -F.logsigmoid(beta * delta) * (1 - label_smoothing) - F.logsigmoid(-beta * delta) * label_smoothing
    return losses, beta * chosen_ratio.detach(), beta * rejected_ratio.detach()


def chosen_nll(p: PairLogps):
    """The chosen answers' cross-entropy per token over the batch, TRL's `sft` loss type (DPO + this = RPO).
    One batch-level value, as TRL computes it; the caller adds it to every example's loss."""
    return -p.chosen.sum() / p.chosen_tokens.sum().clamp(min=1)


def ipo(p: PairLogps, beta: float):
    """IPO: (Δ - 1/(2β))² on log-ratios averaged per answer token (as TRL does, confirmed by the IPO authors)."""
    chosen_ratio, rejected_ratio = p.chosen - p.ref_chosen, p.rejected - p.ref_rejected
    delta = chosen_ratio / p.chosen_tokens.clamp(min=1) - rejected_ratio / p.rejected_tokens.clamp(min=1)
    losses = (delta - 1 / (2 * beta)) ** 2
    return losses, beta * chosen_ratio.detach(), beta * rejected_ratio.detach()


def kto(r: RatedLogps, beta: float, desirable_weight: float = 1.0, undesirable_weight: float = 1.0):
    """KTO: desirable answers 1 - σ(β·(ratio - z)), undesirable 1 - σ(β·(z - ratio)), z = the batch's mean
    policy/reference KL on mismatched pairs (clamped at 0, no gradient). Rewards are β·ratio; the
    "rejected" reward slot carries the same values (a rated answer has one side)."""
    import torch

    z = (r.kl - r.ref_kl).mean().detach().clamp(min=0)
    ratio = r.logps - r.ref
    desirable = 1 - torch.sigmoid(beta * (ratio - z))
    undesirable = 1 - torch.sigmoid(beta * (z - ratio))
    losses = torch.where(r.desirable, desirable_weight * desirable, undesirable_weight * undesirable)
    rewards = beta * ratio.detach()
    return losses, rewards, rewards


def orpo(p: PairLogps, beta: float):
    """ORPO: NLL of the chosen answer (per token) - β·log σ(log odds(chosen) - log odds(rejected)), odds from
    the mean per-token log-prob; no reference model. Rewards are β·mean log-prob."""
    import torch
    import torch.nn.functional as F

    def log1mexp(x):  # log(1 - e^x) for x < 0, stably
        return torch.where(x > -0.693, torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))

    chosen, rejected = p.chosen_mean.float(), p.rejected_mean.float()
    log_odds = (chosen - rejected) - (log1mexp(chosen) - log1mexp(rejected))
    losses = -chosen - beta * F.logsigmoid(log_odds)
    return losses, beta * chosen.detach(), beta * rejected.detach()


def simpo(p: PairLogps, beta: float, gamma: float, label_smoothing: float = 0.0):
    """SimPO: -log σ(β·(mean log π_c - mean log π_r) - γ), with label smoothing; no reference model.
    (TRL's CPO trainer writes γ as simpo_gamma and divides it by β before multiplying by β: the same.)"""
    import torch.nn.functional as F

    logits = beta * (p.chosen_mean - p.rejected_mean) - gamma
    losses = -F.logsigmoid(logits) * (1 - label_smoothing) - F.logsigmoid(-logits) * label_smoothing
    return losses, beta * p.chosen_mean.detach(), beta * p.rejected_mean.detach()
