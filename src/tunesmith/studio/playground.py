"""Side-by-side chat: the same conversation sent to the base model and to a fine-tuned run.

Models stay loaded between messages (at most a few, keyed by folder) because loading costs seconds. Both sides
answer under the run's inference contract, as every deployment of the run does: its trained system prompt when
the conversation brings none, and its generation defaults (evaluation's: greedy, its token limit), each model
rendering the conversation with its own chat template. So the only difference between the two answers is the
fine-tuning.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from tunesmith.errors import TunesmithError
from tunesmith.studio.context import api


@dataclass
class Loaded:
    model: object
    tokenizer: object
    labels: list[str] | None = None
    contract: object | None = None  # tunesmith.runs.InferenceContract of a run; None for the base model

    def __iter__(self):  # (model, tokenizer, labels), as callers unpack it
        return iter((self.model, self.tokenizer, self.labels))

_cache: dict[tuple[str, str], Loaded] = {}
_lock = threading.Lock()
MAX_LOADED = 3


def _remember(key: tuple[str, str], loader) -> Loaded:
    with _lock:
        if key not in _cache:
            if len(_cache) >= MAX_LOADED:
                _cache.pop(next(iter(_cache)))
            _cache[key] = loader()
        return _cache[key]


def base_model(project) -> Loaded:
    from tunesmith.models.catalog import resolve
    from tunesmith.models.loading import load_causal_lm, load_tokenizer

    config = project.config.model
    resolved = resolve(config.name, trust_remote_code=config.trust_remote_code)
    return _remember(("base", str(resolved.path)), lambda: Loaded(
        load_causal_lm(resolved, dtype=config.dtype, trust_remote_code=config.trust_remote_code),
        load_tokenizer(resolved, trust_remote_code=config.trust_remote_code)))


def run_model(run_dir: Path) -> Loaded:
    def load():
        loaded = api("train", "load_run")(run_dir)
        return Loaded(loaded.model, loaded.tokenizer, loaded.labels, loaded.folder.inference_contract())

    return _remember(("run", str(run_dir)), load)


def classify(model_tokenizer_labels: Loaded, text: str, max_length: int) -> str:
    """A classifier run's label for `text`, with its probability and the runner-up."""
    import torch

    model, tokenizer, labels = model_tokenizer_labels
    encoded = tokenizer([text], return_tensors="pt", truncation=True, max_length=max_length)
    with torch.inference_mode():
        probs = torch.softmax(model(**encoded).logits.float()[0], dim=-1).tolist()
    ranked = sorted(zip(labels or [str(i) for i in range(len(probs))], probs, strict=False), key=lambda x: -x[1])
    best, runner_up = ranked[0], ranked[1] if len(ranked) > 1 else None
    return f"**{best[0]}** ({best[1]:.0%})" + (f", then {runner_up[0]} ({runner_up[1]:.0%})" if runner_up else "")


def reply(loaded: Loaded, history: list[dict], max_new_tokens: int, contract=None) -> str:
    """The model's answer to the conversation under `contract` (default: the loaded run's own; none for a base
    model); `max_new_tokens` applies when there is no contract or it sets no limit."""
    from tunesmith.inference import generate_chat

    messages = [{"role": m["role"], "content": _text(m["content"])} for m in history]
    contract = contract if contract is not None else loaded.contract
    settings = {"max_new_tokens": max_new_tokens}
    if contract is not None:
        messages = contract.conversation(messages)
        settings = {"max_new_tokens": contract.max_new_tokens or max_new_tokens,
                    "temperature": contract.temperature, "stop": contract.stop, "seed": 0}
    answer = generate_chat(loaded.model, loaded.tokenizer, [messages], **settings)[0].text.strip()
    return answer or "(the model answered with an empty message)"


@dataclass
class SideBySide:
    base: str
    tuned: str
    contract: object  # the run's InferenceContract, which both answers were generated under


def side_by_side(project, run_dir: Path, base_history: list[dict], tuned_history: list[dict]) -> SideBySide:
    """The base model's and the run's answers, both under the run's inference contract."""
    limit = project.config.evaluation.max_new_tokens
    tuned = run_model(run_dir)
    return SideBySide(reply(base_model(project), base_history, limit, contract=tuned.contract),
                      reply(tuned, tuned_history, limit), tuned.contract)


def contract_note(contract) -> str:
    """One plain line under the chat: what both models were asked with."""
    limit = f"at most {contract.max_new_tokens} new tokens" if contract.max_new_tokens else "the default length"
    how = "the most likely words (no randomness)" if not contract.temperature else \
        f"sampling at temperature {contract.temperature:g}"
    return (f"Both models answer exactly as the deployed run will: {contract.describe()}; {limit}; {how}. "
            "The only difference is the fine-tuning.")


def _text(content) -> str:
    # Gradio 6 may hand back message content as a list of typed parts.
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content)


SEARCH_RESULTS = 3  # documents shown per side


def search(project, dataset, run_dir: Path, query: str) -> SideBySide:
    """The corpus of `dataset` (every document of every split) ranked for `query` by the base encoder and by the
    embedding run: the side-by-side of a search model, as the evaluation scores it (the same corpus, cosine)."""
    import numpy as np

    from tunesmith.embeddings import api as embeddings
    from tunesmith.embeddings.evaluation import corpus_of
    from tunesmith.evaluate.compare import split_records

    corpus = corpus_of([split_records(dataset, name) for name in ("train", "validation", "test")])
    if not corpus:
        raise TunesmithError("this dataset has no documents to search.",
                             "Prepare a dataset of (query, positive) pairs on the Data page.")

    def ranked(model) -> str:
        vectors = embeddings.embed(corpus, model=model)
        scores = vectors @ embeddings.embed(query, model=model)
        best = np.argsort(-scores, kind="stable")[:SEARCH_RESULTS]
        return "\n".join(f"{rank}. ({scores[i]:.2f}) {corpus[i]}" for rank, i in enumerate(best, 1))

    return SideBySide(ranked(project.config.model.name), ranked(run_dir), None)
