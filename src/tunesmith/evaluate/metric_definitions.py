"""What each metric means, in one plain sentence: the one table the HTML report and the CLI quote, so a
number is never shown without its definition and a report never explains a metric it does not show."""

from __future__ import annotations

from collections.abc import Iterable

from tunesmith.evaluate.summary import LOWER_IS_BETTER

DEFINITIONS = {
    "accuracy": "Share of examples answered with exactly the right label (1 = all right).",
    "exact_match": "Share of answers identical to the reference after normalising case, spaces and punctuation.",
    "token_f1": "Word overlap between answer and reference: 1 when they use the same words, 0 when none are shared.",
    "rouge_l": "Longest run of words the answer shares with the reference, in order, as a 0-1 score.",
    "chrf_sentence": "Character-level similarity of each answer to its reference (0-100), forgiving small "
                     "spelling and word-form differences.",
    "chrf": "Character-level similarity of all answers to their references together (0-100).",
    "bleu": "Share of short word sequences the answers have in common with the references (0-100).",
    "fact_accuracy": "Share of the expected facts that appear in the answer.",
    "reference_nll": "How surprised the model is by the reference answer (average negative log-likelihood per "
                     "token): lower means the model finds the right answer more likely.",
    "perplexity": "The reference answers' average surprise as a number of equally likely choices per token: "
                  "lower is better.",
    "json_valid": "Share of answers that are valid JSON.",
    "json_field_accuracy": "Share of the reference's JSON fields the answer gets exactly right.",
    "judge": "Score from a small local model asked to grade the answer against the reference (indicative only).",
    "f1_macro": "F1 (balance of precision and recall) averaged over classes, each class counting equally.",
    "f1_weighted": "F1 averaged over classes, each class weighted by how many examples it has.",
    "precision": "Of the examples predicted as this class, the share that really are.",
    "recall": "Of the examples of this class, the share the model found.",
    "expected_calibration_error": "How far the model's confidence is from its real accuracy: 0 means a 70% "
                                  "confident answer is right 70% of the time.",
    "preference_accuracy": "Share of pairs where the model prefers the chosen answer over the rejected one.",
    "reward_margin": "How much more likely the model finds the chosen answer than the rejected one.",
    "logprob_margin": "Log-probability of the chosen answer minus that of the rejected one: higher is better.",
    "tool_call_accuracy": "Share of examples where the model called the right tool with the right arguments "
                          "(or rightly answered without a tool).",
    "tool_name_accuracy": "Share of expected tool calls that name the right tool.",
    "tool_arguments_exact": "Share of expected tool calls whose arguments match exactly.",
    "tool_schema_valid": "Share of tool calls whose arguments fit the tool's declared schema.",
    "tool_called_when_should": "Share of examples needing a tool where the model called one.",
    "tool_answered_when_should": "Share of examples needing no tool where the model answered directly.",
    "recall@1": "Share of queries whose right document is ranked first.",
    "recall@5": "Share of queries whose right document is in the top 5.",
    "recall@10": "Share of queries whose right document is in the top 10.",
    "mrr@10": "1 / the rank of the first right document (0 when outside the top 10), averaged over queries.",
    "ndcg@10": "Ranking quality of the top 10 (1 = every right document ranked above every wrong one).",
}


def define(metric: str) -> str | None:
    """The sentence for a metric, also for user checks (`check:<name>`); None for an unknown name."""
    if metric.startswith("check:"):
        return f"Share of answers passing your check '{metric[6:]}' (evaluation.checks)."
    return DEFINITIONS.get(metric)


def definitions_for(metrics: Iterable[str]) -> list[tuple[str, str]]:
    """(metric, sentence) for each metric shown, in order, once; metrics without a definition are left out."""
    seen = dict.fromkeys(metrics)
    return [(name, sentence) for name in seen if (sentence := define(name))]


def lower_is_better(metrics: Iterable[str]) -> list[str]:
    """The shown metrics where a lower number is better (only those a report mentions)."""
    return [m for m in dict.fromkeys(metrics) if m in LOWER_IS_BETTER]
