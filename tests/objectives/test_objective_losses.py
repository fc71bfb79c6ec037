"""The preference losses against TRL's own code on identical per-token log-probs, and against hand values.

TRL computes DPO and KTO inside its trainers' `_compute_loss`; those methods are called here on a stand-in
trainer whose model returns the given log-probs (TRL's fused head output), so what is compared is exactly
TRL's loss arithmetic. ORPO's and SimPO's losses are TRL methods taking log-probs directly.
"""

from __future__ import annotations

import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from tunesmith.objectives import losses

trl = pytest.importorskip("trl", reason="the reference tests compare with TRL (pip install 'tunesmith[dev]')")

B, T = 4, 9


def _per_token(seed: int, rows: int):
    """Per-token log-probs at the positions of a completion mask (zero elsewhere, as TRL's fused head gives)."""
    generator = torch.Generator().manual_seed(seed)
    mask = torch.zeros(rows, T + 1, dtype=torch.long)
    for row in range(rows):
        start = 2 + row % 3
        mask[row, start:start + 3 + (row * 5) % 5] = 1
    logps = -torch.rand(rows, T, generator=generator) * 3 * mask[:, 1:]
    return mask, logps


def _stand_in(**attributes):
    accelerator = SimpleNamespace(device=torch.device("cpu"), gather_for_metrics=lambda x: x, gather=lambda x: x,
                                  unwrap_model=lambda m: m)
    base = dict(model=SimpleNamespace(training=True), accelerator=accelerator, aux_loss_enabled=False,
                _metrics=defaultdict(lambda: defaultdict(list)), _total_train_tokens=0, _tp_size=1)
    return SimpleNamespace(**base, **attributes)


def _model(logps):
    rows, width = logps.shape
    return lambda **kwargs: SimpleNamespace(log_probs=logps, entropy=torch.zeros(rows, width),
                                            mean_logits=torch.zeros(rows, width),
                                            is_top1=torch.zeros(rows, width, dtype=torch.bool))


def _trl_dpo(loss_type: str | list[str], beta: float, label_smoothing: float, mask, logps, ref,
             weights: list[float] | None = None):
    from trl.trainer.dpo_trainer import DPOTrainer

    types = [loss_type] if isinstance(loss_type, str) else loss_type
    trainer = _stand_in(ld_alpha=None, precompute_ref_logps=True, f_divergence_type="reverse_kl",
                        loss_types=types, loss_weights=weights or [1.0] * len(types), beta=beta,
                        label_smoothing=label_smoothing, use_weighting=False)
    inputs = {"input_ids": torch.ones_like(mask), "attention_mask": torch.ones_like(mask), "completion_mask": mask,
              "ref_chosen_logps": ref[:B], "ref_rejected_logps": ref[B:]}
    return float(DPOTrainer._compute_loss(trainer, _model(logps), inputs, False))


def _pairs(mask, logps, ref=None) -> losses.PairLogps:
    sums, tokens = logps.sum(1), mask[:, 1:].sum(1)
    return losses.PairLogps(sums[:B], sums[B:], tokens[:B], tokens[B:], None if ref is None else ref[:B],
                            None if ref is None else ref[B:])


@pytest.mark.parametrize(("loss_type", "beta", "label_smoothing"), [("sigmoid", 0.1, 0.0), ("sigmoid", 0.5, 0.0),
                                                                    ("ipo", 0.1, 0.0), ("ipo", 1.0, 0.0)])
def test_dpo_and_ipo_equal_trl(loss_type, beta, label_smoothing):
    mask, logps = _per_token(0, 2 * B)
    ref = logps.sum(1) + torch.linspace(-1.5, 2.0, 2 * B)
    expected = _trl_dpo(loss_type, beta, label_smoothing, mask, logps, ref)
    pairs = _pairs(mask, logps, ref)
    ours = losses.ipo(pairs, beta) if loss_type == "ipo" else losses.dpo(pairs, beta, label_smoothing)
    assert float(ours[0].mean()) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(("loss", "weight"), [("sigmoid", 1.0), ("sigmoid", 0.3), ("ipo", 2.0)])
def test_dpo_with_an_sft_term_equals_trl_rpo(loss, weight):
    """sft_weight: TRL's loss_type [sigmoid, sft] with loss_weights [1, w] (RPO), through the objective's loss."""
    from tunesmith.objectives.dpo import DpoOptions
    from tunesmith.objectives.dpo import loss as dpo_loss

    mask, logps = _per_token(3, 2 * B)
    ref = logps.sum(1) + torch.linspace(-1.0, 1.0, 2 * B)
    expected = _trl_dpo([loss, "sft"], 0.2, 0.0, mask, logps, ref, [1.0, weight])
    ours, _, _ = dpo_loss(_pairs(mask, logps, ref), DpoOptions(beta=0.2, loss=loss, sft_weight=weight))
    assert float(ours.mean()) == pytest.approx(expected, rel=1e-6)
    plain, _, _ = dpo_loss(_pairs(mask, logps, ref), DpoOptions(beta=0.2, loss=loss))
    assert float(ours.mean()) > float(plain.mean())


def test_kto_equals_trl():
    from trl.trainer.kto_trainer import KTOTrainer

    mask, logps = _per_token(1, B)
    desirable = torch.tensor([True, False, True, False])
    ref = logps.sum(1) + torch.tensor([0.5, -0.3, -1.0, 0.8])
    kl, ref_kl = torch.tensor([-3.0, -2.0, -4.0, -1.0]), torch.tensor([-3.5, -2.5, -3.0, -1.5])
    trainer = _stand_in(precompute_ref_logps=True, calculate_KL=True, loss_type="kto", beta=0.2,
                        desirable_weight=1.3, undesirable_weight=0.7, _compute_kl_logps=lambda model, batch: kl)
    inputs = {"input_ids": torch.ones_like(mask), "attention_mask": torch.ones_like(mask), "completion_mask": mask,
              "label": desirable, "ref_logps": ref, "ref_KL_logps": ref_kl}
    expected = float(KTOTrainer._compute_loss(trainer, _model(logps), inputs, False))
    ours = losses.kto(losses.RatedLogps(logps.sum(1), desirable, ref, kl, ref_kl), 0.2, 1.3, 0.7)
    assert float(ours[0].mean()) == pytest.approx(expected, rel=1e-6)


def test_orpo_odds_ratio_equals_trl():
    from trl.experimental.orpo.orpo_trainer import ORPOTrainer

    mask, logps = _per_token(2, 2 * B)
    pairs = _pairs(mask, logps)
    trainer = _stand_in(beta=0.25)
    trl_terms, chosen_rewards, _, _, _ = ORPOTrainer.odds_ratio_loss(trainer, pairs.chosen_mean, pairs.rejected_mean)
    ours, ours_chosen, _ = losses.orpo(pairs, 0.25)
    nll = -pairs.chosen_mean  # TRL adds its cross-entropy on the chosen answers: `loss = nll - terms.mean()`
    torch.testing.assert_close(ours, nll - trl_terms)
    torch.testing.assert_close(ours_chosen, chosen_rewards)


@pytest.mark.parametrize(("beta", "gamma", "label_smoothing"), [(2.0, 1.0, 0.0), (2.5, 0.5, 0.1)])
def test_simpo_equals_trl_cpo_simpo(beta, gamma, label_smoothing):
    from trl.experimental.cpo.cpo_trainer import CPOTrainer

    mask, logps = _per_token(3, 2 * B)
    pairs = _pairs(mask, logps)
    trainer = _stand_in(beta=beta, alpha=0.0, loss_type="simpo", simpo_gamma=gamma, label_smoothing=label_smoothing)
    expected, _, _ = CPOTrainer.cpo_loss(trainer, pairs.chosen_mean, pairs.rejected_mean)
    torch.testing.assert_close(losses.simpo(pairs, beta, gamma, label_smoothing)[0], expected)


def test_hand_computed_values():
    one = torch.tensor([1])
    pairs = losses.PairLogps(torch.tensor([-2.0]), torch.tensor([-5.0]), one * 2, one * 3,
                             torch.tensor([-3.0]), torch.tensor([-4.0]))
    # Δ = (-2 + 3) - (-5 + 4) = 2; β = 0.5: -log σ(1)
    assert float(losses.dpo(pairs, 0.5)[0]) == pytest.approx(math.log1p(math.exp(-1.0)))
    # conservative DPO (TRL 1.16's sigmoid loss has no smoothing): 0.8·(-log σ(1)) + 0.2·(-log σ(-1))
    smoothed = 0.8 * math.log1p(math.exp(-1.0)) + 0.2 * math.log1p(math.exp(1.0))
    assert float(losses.dpo(pairs, 0.5, 0.2)[0]) == pytest.approx(smoothed)
    # IPO: per-token Δ = 1/2 - (-1/3) = 5/6; (5/6 - 1/(2·0.5))² = (1/6)²
    assert float(losses.ipo(pairs, 0.5)[0]) == pytest.approx((5 / 6 - 1) ** 2)
    # SimPO: β·(-1 - -5/3) - γ = 2·(2/3) - 1 = 1/3
    assert float(losses.simpo(pairs, 2.0, 1.0)[0]) == pytest.approx(math.log1p(math.exp(-1 / 3)))


def test_sequence_logps_equal_trls_batch_logps(tiny_lm_dir):
    from trl.experimental.orpo.orpo_trainer import ORPOTrainer

    from tunesmith.models.loading import load_causal_lm, load_tokenizer
    from tunesmith.objectives.runtime import collate_pairs, encode_preferences, sequence_logps

    model, tokenizer = load_causal_lm(tiny_lm_dir).eval(), load_tokenizer(tiny_lm_dir)
    records = [{"id": "a", "messages": [{"role": "user", "content": "Which colour?"},
                                        {"role": "assistant", "content": "Red, thanks."}], "rejected": "Blue!"},
               {"id": "b", "messages": [{"role": "user", "content": "And the bike number seven?"},
                                        {"role": "assistant", "content": "Green."}], "rejected": "No idea at all."}]
    batch = collate_pairs(encode_preferences(tokenizer, records, "pairs", 64), tokenizer.pad_token_id)
    with torch.no_grad():
        ours, _ = sequence_logps(model, batch, virtual_tokens=False)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    torch.testing.assert_close(ours, ORPOTrainer.get_batch_logps(logits, batch["labels"]), atol=1e-4, rtol=1e-5)
