"""Generation metrics: pure functions of predictions and references.

Per-item metrics return one float per example (so they can be bootstrapped and paired);
corpus metrics (BLEU, chrF) return one number for the whole set, as sacrebleu defines them.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

_PUNCT = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD-style normalisation: lower case, drop punctuation and articles, collapse whitespace."""
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCT))
    return " ".join(text.split())


def normalize_space(text: str) -> str:
    return " ".join(text.lower().split())


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def token_f1(prediction: str, reference: str) -> float:
    """Harmonic mean of token precision and recall after normalisation (SQuAD definition)."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    overlap = sum((Counter(pred) & Counter(ref)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred), overlap / len(ref)
    return 2 * precision * recall / (precision + recall)


_rouge_scorer = None


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (longest common subsequence), with rouge-score's stemming tokenizer."""
    global _rouge_scorer
    if _rouge_scorer is None:
        from rouge_score import rouge_scorer

        _rouge_scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return _rouge_scorer.score(reference, prediction)["rougeL"].fmeasure


def fact_accuracy(prediction: str, facts: Sequence[str]) -> float | None:
    """Share of `facts` found in the prediction (case-insensitive, whitespace-normalised); None if no facts."""
    facts = [f for f in facts if normalize_space(str(f))]
    if not facts:
        return None
    text = normalize_space(prediction)
    return sum(normalize_space(str(f)) in text for f in facts) / len(facts)


def chrf_sentence(prediction: str, reference: str) -> float:
    """Sentence-level chrF (0-100), for per-item comparisons; the headline chrF is corpus-level."""
    from sacrebleu.metrics import CHRF

    return CHRF().sentence_score(prediction, [reference]).score


def corpus_bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    import sacrebleu

    return sacrebleu.corpus_bleu(list(predictions), [list(references)]).score


def corpus_chrf(predictions: Sequence[str], references: Sequence[str]) -> float:
    import sacrebleu

    return sacrebleu.corpus_chrf(list(predictions), [list(references)]).score


PER_ITEM = {"exact_match": exact_match, "token_f1": token_f1, "rouge_l": rouge_l}


def per_item_scores(predictions: Sequence[str], references: Sequence[str],
                    facts: Sequence[Sequence[str]] | None = None) -> dict[str, list[float]]:
    """Every per-item metric for aligned predictions and references; fact_accuracy only when facts exist."""
    scores = {name: [fn(p, r) for p, r in zip(predictions, references, strict=True)] for name, fn in PER_ITEM.items()}
    if facts is not None and any(facts):
        values = [fact_accuracy(p, f) for p, f in zip(predictions, facts, strict=True)]
        # Items without facts count as NaN so they drop out of the mean instead of scoring 0.
        scores["fact_accuracy"] = [float("nan") if v is None else v for v in values]
    return scores


def corpus_scores(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    return {"bleu": corpus_bleu(predictions, references), "chrf": corpus_chrf(predictions, references)}
