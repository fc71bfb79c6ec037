"""Chat augmentation: the base model rewrites each last user question; the answer stays the same.

Paraphrases that come back empty, identical to the question, or much longer/shorter are discarded,
so a weak base model adds fewer examples rather than bad ones.
"""

from __future__ import annotations

import random

PROMPT = ("Rewrite the following customer question with different words but the same meaning. "
          "Reply with the rewritten question only.\n\nQuestion: {question}")


def acceptable(question: str, paraphrase: str) -> bool:
    text = paraphrase.strip()
    return bool(text) and text.lower() != question.strip().lower() and \
        0.3 * len(question) <= len(text) <= 3 * len(question) + 20


def with_question(record: dict, question: str, copy: int) -> dict:
    """A copy of `record` whose last user turn is `question`, marked as augmented."""
    messages = [dict(m) for m in record["messages"]]
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    messages[last_user]["content"] = question
    meta = {**record.get("meta", {}), "augmented": True, "augmented_from": record["id"]}
    return {**record, "id": f"{record['id']}#para{copy}", "messages": messages, "meta": meta}


def paraphrase_questions(train: list[dict], copies: int, project, seed: int) -> list[dict]:
    from tunesmith.inference import generate_chat
    from tunesmith.models.loading import load_causal_lm, load_tokenizer
    from tunesmith.progress import status

    model_config = project.config.model
    with status(f"paraphrasing {len(train)} questions × {copies} with {model_config.name}"):
        tokenizer = load_tokenizer(model_config.name, model_config.trust_remote_code)
        model = load_causal_lm(model_config.name, model_config.dtype, model_config.trust_remote_code).eval()
        questions = [[m for m in r["messages"] if m["role"] == "user"][-1]["content"] for r in train]
        out = []
        for copy in range(1, copies + 1):
            prompts = [[{"role": "user", "content": PROMPT.format(question=q)}] for q in questions]
            # the first copy is greedy; later copies sample so they differ from each other
            sampling = {"temperature": 0.8, "seed": seed + copy} if copy > 1 else {}
            completions = generate_chat(model, tokenizer, prompts, max_new_tokens=64, batch_size=8, **sampling)
            for record, question, completion in zip(train, questions, completions, strict=True):
                if acceptable(question, completion.text):
                    out.append(with_question(record, completion.text.strip(), copy))
    random.Random(seed).shuffle(out)
    return out
