"""Generative contenders and their scoring on one held-out set.

A contender is anything that answers conversations: the base model zero-shot, the base model with a
prompt-engineered few-shot template, or a fine-tuned run. Plain callables work too, so the scoring is
testable without a model. Where held-out items offer tools, `answer` and `nll` also get `tools=` (the Tools
offered to each conversation) and the answers are scored on tool use too (evaluate/tools.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.config.evaluation import EvaluationConfig
from tunesmith.evaluate.checks import check_scores, json_scores
from tunesmith.evaluate.generation import generate_answers, reference_nll
from tunesmith.evaluate.items import ChatItem, Messages, few_shot_prompt
from tunesmith.evaluate.metrics import corpus_scores, per_item_scores
from tunesmith.tools import tools_of

Answerer = Callable[[list[Messages]], list[str]]
NllScorer = Callable[[list[Messages], list[str]], list[tuple[float, int]]]
PairScorer = Callable[[list[Messages], list[str], list[str]], list[tuple[float, float]]]


def zero_shot_prompt(item: ChatItem) -> Messages:
    return item.prompt


@dataclass
class ChatContender:
    name: str
    answer: Answerer
    kind: str = "baseline"  # "baseline" or "run"
    prompt: Callable[[ChatItem], Messages] = zero_shot_prompt
    nll: NllScorer | None = None
    run_dir: Path | None = None
    pairs: PairScorer | None = None  # summed log-probs of (chosen, rejected): preference metrics


@dataclass
class ContenderResult:
    """Everything measured for one contender: outputs, per-item scores, corpus scores."""

    name: str
    kind: str
    outputs: list[str]
    per_item: dict[str, list[float]]
    corpus: dict[str, float] = field(default_factory=dict)
    details: dict = field(default_factory=dict)  # task-specific extras (confusion matrix, calibration)
    run_dir: Path | None = None
    reference: str | None = None  # runs: the contender that is this run's reference model (evaluate/preference.py)


def model_contender(name: str, model, tokenizer, settings: EvaluationConfig, *, kind: str = "baseline",
                    prompt: Callable[[ChatItem], Messages] = zero_shot_prompt,
                    run_dir: Path | None = None) -> ChatContender:
    """Wrap a causal LM + tokenizer as a contender that generates in batches."""

    def answer(conversations: list[Messages], tools=None) -> list[str]:
        return generate_answers(model, tokenizer, conversations, max_new_tokens=settings.max_new_tokens,
                                batch_size=settings.generation_rows, label=f"{name}: generating", tools=tools)

    def nll(conversations: list[Messages], references: list[str], tools=None) -> list[tuple[float, int]]:
        return reference_nll(model, tokenizer, conversations, references, batch_size=settings.batch_size,
                             tools=tools)

    def pairs(conversations: list[Messages], chosen: list[str], rejected: list[str]) -> list[tuple[float, float]]:
        from tunesmith.evaluate.preference import pair_logps

        return pair_logps(model, tokenizer, conversations, chosen, rejected, settings.batch_size)

    return ChatContender(name, answer, kind, prompt, nll if settings.perplexity else None, run_dir, pairs)


def under_contract(contract) -> Callable[[ChatItem], Messages]:
    """A run's prompts: each held-out conversation as its inference contract has the model read it (the
    contract's system prompt first, unless the conversation brings its own), as serving renders requests."""
    return lambda item: contract.conversation(item.prompt)


def few_shot(system: str, examples: Sequence[ChatItem]) -> Callable[[ChatItem], Messages]:
    return lambda item: few_shot_prompt(item, system, examples)


def score_chat(items: Sequence[ChatItem], contender: ChatContender, settings: EvaluationConfig) -> ContenderResult:
    """Ask the contender every held-out prompt and score its answers against the references."""
    conversations = [contender.prompt(item) for item in items]
    references = [item.reference for item in items]
    offered = {"tools": [tools_of(item.tools) for item in items]} if any(item.tools for item in items) else {}
    outputs = contender.answer(conversations, **offered)
    per_item = per_item_scores(outputs, references, [item.facts for item in items])
    per_item |= json_scores(outputs, references)
    per_item |= check_scores(settings.checks, outputs)
    corpus, details = corpus_scores(outputs, references), {}
    if offered:
        from tunesmith.evaluate.tools import tool_scores

        scores, details = tool_scores(items, outputs)
        per_item |= scores
    if contender.nll is not None:
        nll = contender.nll(conversations, references, **offered)
        per_item["reference_nll"] = [total / n if n else float("nan") for total, n in nll]
        tokens = sum(n for _, n in nll)
        corpus["perplexity"] = math.exp(sum(total for total, _ in nll) / tokens) if tokens else float("nan")
    if contender.pairs is not None and any(item.rejected is not None for item in items):
        from tunesmith.evaluate.preference import per_item as preference_scores

        paired = [i for i, item in enumerate(items) if item.rejected is not None]
        found = contender.pairs([conversations[i] for i in paired], [references[i] for i in paired],
                                [items[i].rejected for i in paired])
        scores = dict(zip(paired, found, strict=True))
        per_item |= preference_scores([scores.get(i) for i in range(len(items))])
    return ContenderResult(contender.name, contender.kind, outputs, per_item, corpus, details, contender.run_dir)
