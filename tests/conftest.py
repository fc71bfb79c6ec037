"""Shared fixtures: tiny models with real tokenizers, written once per test session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tiny models gain nothing from intra-op threads, and several test processes (subprocess servers,
# torchrun workers) oversubscribing 2 cores slows everything by an order of magnitude. Tests on the
# real model raise this again with torch.set_num_threads.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread per test, restored afterwards (runs set `training.num_threads` process-wide)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory):
    """A 2-layer, hidden-64 Llama with SmolLM2's tokenizer and chat template, as an HF folder."""
    from tunesmith.models.tiny import save_tiny

    return save_tiny("causal-lm", tmp_path_factory.mktemp("tiny-lm"))


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory):
    """A 2-layer, hidden-32 BERT with MiniLM's tokenizer, as an HF folder."""
    from tunesmith.models.tiny import save_tiny

    return save_tiny("encoder", tmp_path_factory.mktemp("tiny-encoder"))
