"""The vocabulary projection computed chunk by chunk equals the whole [targets × vocab] cross-entropy,
in value and in every gradient, and never holds more than one chunk of logits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tunesmith.train import loss as loss_module
from tunesmith.train.loss import causal_loss_sum, linear_cross_entropy


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 7 rows at a 1000-word vocabulary, so every test crosses several chunk boundaries."""
    monkeypatch.setattr(loss_module, "LOGIT_CHUNK_BYTES", 4 * 1000 * 7)


def _inputs(bias: bool, dtype=torch.float32):
    torch.manual_seed(0)
    hidden = torch.randn(30, 16, dtype=dtype, requires_grad=True)
    weight = torch.randn(1000, 16, dtype=dtype, requires_grad=True)
    b = torch.randn(1000, dtype=dtype, requires_grad=True) if bias else None
    labels = torch.randint(0, 1000, (30,))
    return hidden, weight, b, labels


@pytest.mark.parametrize("bias", [False, True])
def test_chunked_equals_whole_in_value_and_gradients(small_chunks, bias):
    hidden, weight, b, labels = _inputs(bias)
    whole = F.cross_entropy(F.linear(hidden, weight, b).float(), labels, reduction="sum")
    expected = torch.autograd.grad(whole * 0.37, [t for t in (hidden, weight, b) if t is not None])
    chunked = linear_cross_entropy(hidden, weight, b, labels)
    got = torch.autograd.grad(chunked * 0.37, [t for t in (hidden, weight, b) if t is not None])
    torch.testing.assert_close(chunked, whole, rtol=1e-6, atol=1e-4)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6)


def test_frozen_head_gets_no_gradient_and_no_grad_mode_computes_none(small_chunks):
    hidden, weight, _, labels = _inputs(False)
    weight.requires_grad_(False)
    loss = linear_cross_entropy(hidden, weight, None, labels)
    loss.backward()
    assert weight.grad is None and hidden.grad is not None
    with torch.no_grad():
        value = linear_cross_entropy(hidden, weight, None, labels)
    assert not value.requires_grad
    torch.testing.assert_close(value, loss.detach())


def test_bfloat16_weights_match_the_whole_projection(small_chunks):
    hidden, weight, _, labels = _inputs(False, torch.bfloat16)
    whole = F.cross_entropy(F.linear(hidden, weight).float(), labels, reduction="sum")
    expected = torch.autograd.grad(whole, [hidden, weight])
    chunked = linear_cross_entropy(hidden, weight, None, labels)
    got = torch.autograd.grad(chunked, [hidden, weight])
    assert got[1].dtype == torch.bfloat16
    torch.testing.assert_close(chunked, whole, rtol=1e-3, atol=1e-2)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g.float(), e.float(), rtol=2e-2, atol=2e-2)


def _batch(tokenizer, rows: int = 3, width: int = 12):
    from tunesmith.plan.measure import synthetic_batch

    return synthetic_batch(len(tokenizer), rows, width, 0.5, tokenizer.pad_token_id)[0]


@pytest.mark.parametrize("method", ["lora", "full"])
def test_tiny_model_loss_and_gradients_equal_the_full_logits_path(tiny_lm_dir, monkeypatch, method):
    """On a tiny Llama (tied embeddings): the chunked head path against the model's own forward with whole
    logits, for LoRA (frozen head) and full fine-tuning (the tied head/embedding gets a gradient)."""
    from tunesmith.config import parse_config
    from tunesmith.train.setup import prepare_model

    monkeypatch.setattr(loss_module, "LOGIT_CHUNK_BYTES", 4 * 49152 * 5)  # 5 rows a chunk
    options = {"name": method, **({"r": 4, "alpha": 8, "dropout": 0.0} if method == "lora" else {})}
    config = parse_config({"model": {"name": str(tiny_lm_dir), "max_length": 64}, "method": options})
    model, tokenizer, _, _ = prepare_model(config, "chat")
    batch = _batch(tokenizer)
    params = [p for p in model.parameters() if p.requires_grad]

    chunked, count = causal_loss_sum(model, batch, virtual_tokens=False)
    got = torch.autograd.grad(chunked, params)
    whole, whole_count = causal_loss_sum(model, batch, virtual_tokens=True)  # the model's own forward
    expected = torch.autograd.grad(whole, params)
    assert count == whole_count > 5
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-4)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-5)  # summation order


def test_logits_memory_does_not_grow_with_targets(tiny_lm_dir):
    """The largest tensor the loss makes is one chunk of logits, however many rows carry loss."""
    hidden = torch.randn(4000, 8, requires_grad=True)
    weight = torch.randn(49152, 8)
    labels = torch.randint(0, 49152, (4000,))
    largest = []

    def track(t):
        largest.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(track, lambda t: t):
        linear_cross_entropy(hidden, weight, None, labels).backward()
    rows = loss_module.chunk_rows(49152)
    assert rows < 4000
    assert max(largest) <= max(hidden.numel(), rows * 49152)


def _rss_peak_growth(step) -> int:
    """How far resident memory rises above where it stood while `step` runs (Linux VmHWM, reset first)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
        handle.write("5")  # VmHWM := current RSS
    with open("/proc/self/status", encoding="ascii") as status:
        start = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    step()
    with open("/proc/self/status", encoding="ascii") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return (peak - start) * 1024


def test_peak_memory_of_the_loss_step_is_a_fraction_of_the_whole_logits(monkeypatch):
    """The resident peak of loss + backward, in one process: chunked against whole [targets × vocab] logits
    (64 MB here, ~3 copies alive in the plain backward). Chunked runs first, so memory the plain path might
    leave cached can only make the chunked side look worse."""
    try:
        open("/proc/self/clear_refs", "w").close()
    except OSError:
        pytest.skip("needs Linux /proc/self/clear_refs to reset the resident high-water mark")
    monkeypatch.setattr(loss_module, "LOGIT_CHUNK_BYTES", 4 * 2**20)
    torch.manual_seed(0)
    hidden = torch.randn(512, 64, requires_grad=True)
    weight = torch.randn(32768, 64)
    labels = torch.randint(0, 32768, (512,))

    def chunked():
        linear_cross_entropy(hidden, weight, None, labels).backward()

    def whole():
        F.cross_entropy(F.linear(hidden, weight).float(), labels, reduction="sum").backward()

    chunked_growth = _rss_peak_growth(chunked)
    whole_growth = _rss_peak_growth(whole)
    logits = 512 * 32768 * 4
    assert whole_growth > 1.5 * logits  # the measurement sees the whole logits at all
    assert chunked_growth < 0.25 * whole_growth, (chunked_growth, whole_growth)
