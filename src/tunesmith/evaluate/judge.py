"""Model-as-judge (off by default): a local model says whether each answer matches the reference.

A 135M judge is noisy; the report labels the `judge` column as indicative only. It never decides
the verdict unless the user makes it the primary metric on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tunesmith.evaluate.items import ChatItem, Messages

JUDGE_SYSTEM = "You grade answers strictly. Reply with exactly one word: yes or no."


def judge_prompt(item: ChatItem, answer: str) -> Messages:
    question = next((m["content"] for m in reversed(item.prompt) if m["role"] == "user"), "")
    return [{"role": "system", "content": JUDGE_SYSTEM},
            {"role": "user", "content": f"Question: {question}\nReference answer: {item.reference}\n"
                                        f"Candidate answer: {answer}\nDoes the candidate give the same facts as "
                                        "the reference, without contradicting it? Reply yes or no."}]


def parse_verdict(text: str) -> float:
    """1.0 for yes, 0.0 for no, NaN when the judge said neither (left out of the mean)."""
    word = text.strip().lower().lstrip("*\"' ").split(maxsplit=1)
    first = word[0].strip(".,!:;") if word else ""
    return 1.0 if first == "yes" else 0.0 if first == "no" else float("nan")


def judge_scores(ask: Callable[[list[Messages]], list[str]], items: Sequence[ChatItem],
                 outputs: Sequence[str]) -> list[float]:
    replies = ask([judge_prompt(item, answer) for item, answer in zip(items, outputs, strict=True)])
    return [parse_verdict(reply) for reply in replies]


def judge_results(project, items: Sequence[ChatItem], results) -> None:
    """Add a per-item `judge` score to every contender's result, using the configured local model."""
    from tunesmith.evaluate.generation import generate_answers
    from tunesmith.models.loading import load_causal_lm, load_tokenizer

    config = project.config
    name = config.evaluation.judge.model or config.model.name
    model = load_causal_lm(name, config.model.dtype, config.model.trust_remote_code)
    tokenizer = load_tokenizer(name, config.model.trust_remote_code)

    def ask(conversations: list[Messages]) -> list[str]:
        return generate_answers(model, tokenizer, conversations, batch_size=config.evaluation.generation_rows,
                                max_new_tokens=config.evaluation.judge.max_new_tokens, label="judge")

    for result in results:
        result.per_item["judge"] = judge_scores(ask, items, result.outputs)
        result.details["judge_model"] = name
