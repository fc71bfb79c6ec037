"""Shared fixtures: a temporary home for the whole session, tiny models with real tokenizers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tunesmith.models.convert import MARKER, cache_root

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tiny models gain nothing from intra-op threads, and several test processes (subprocess servers,
# torchrun workers) oversubscribing 2 cores slows everything by an order of magnitude. Tests on the
# real model raise this again with torch.set_num_threads.
os.environ.setdefault("OMP_NUM_THREADS", "1")


# Where this user's converted bundled models are, read before the session moves the cache (see temporary_home).
USER_MODEL_CACHE = cache_root()


def share_converted_models(user_models: Path, models: Path) -> list[Path]:
    """Link the user's finished model conversions (GGUF → safetensors, ~20 s each) and extracted tokenizers
    into `models`. A folder appears under its name only once complete (converted atomically, checksummed
    marker), nothing writes into a complete one, and one that is missing is converted into `models`, not
    into the user's cache: tests read the user's cache at most, and never write it."""
    linked = []
    candidates = [*user_models.glob("*/" + MARKER), *user_models.glob("tokenizers/*/tokenizer.json")]
    for done in candidates:
        folder = done.parent
        if folder.name.startswith("."):  # a conversion still being written
            continue
        link = models / folder.relative_to(user_models)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(folder, target_is_directory=True)
        linked.append(link)
    return linked


@pytest.fixture(scope="session")
def share_models():
    """`share_converted_models`, for its own test."""
    return share_converted_models


@pytest.fixture(scope="session", autouse=True)
def temporary_home(tmp_path_factory):
    """Every test and every process it starts sees a fresh home: HOME, the XDG folders and tunesmith's cache
    (the planner's calibration, tokenizers, converted models) point into a temporary folder, so no test
    depends on (or changes) what this machine's user has cached. Converted bundled models are shared
    read-only (`share_converted_models`)."""
    home = tmp_path_factory.mktemp("home")
    cache = home / ".cache"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOME", str(home))
        env.setenv("XDG_CACHE_HOME", str(cache))
        env.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        env.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
        env.setenv("TUNESMITH_CACHE", str(cache / "tunesmith"))
        share_converted_models(USER_MODEL_CACHE, cache_root())
        yield home


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread per test, restored afterwards (runs set `training.num_threads` process-wide)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def transformers_greedy(model, tokenizer, conversations, max_new_tokens: int = 8, tools=None):
    """An oracle independent of tunesmith's decoding: each conversation alone through `model.generate`, greedy,
    stopping at the same end-of-turn tokens. Tests compare the engine and everything built on it against this."""
    import torch

    from tunesmith.inference import Completion, render_prompt
    from tunesmith.models.loading import end_of_turn_ids

    eos = sorted(end_of_turn_ids(tokenizer, getattr(model, "generation_config", None)))
    results = []
    for i, conversation in enumerate(conversations):
        prompt = render_prompt(tokenizer, conversation, tools[i] if tools else ())
        ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]])
        with torch.inference_mode():
            out = model.eval().generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                        max_new_tokens=max_new_tokens, eos_token_id=eos or None,
                                        pad_token_id=tokenizer.pad_token_id)
        new = out[0, ids.shape[1]:].tolist()
        ended = next((k for k, t in enumerate(new) if t in eos), None)
        answer = new[:ended] if ended is not None else new
        results.append(Completion(tokenizer.decode(answer, skip_special_tokens=True).strip(), ids.shape[1],
                                  len(answer), "stop" if ended is not None else "length"))
    return results


@pytest.fixture(scope="session")
def hf_greedy():
    return transformers_greedy


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


@pytest.fixture(scope="session")
def quickstart_fast(temporary_home, tmp_path_factory):
    """One `quickstart --fast` run on the bundled model (about 2 minutes on two quiet cores), shared by the slow
    tests that read it (the quickstart's promise, every deployment path); only they request it."""
    import torch

    from tunesmith.quickstart.run import run_quickstart

    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        return run_quickstart(tmp_path_factory.mktemp("quickstart") / "qs", fast=True)
    finally:
        torch.set_num_threads(previous)
