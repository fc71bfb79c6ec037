"""Synthetic training examples for scarce data, always marked meta.augmented so evaluation skips them.

Classification: synonym swap, random deletion and random swap (EDA, Wei & Zou 2019). Chat: the base
model paraphrases each user question. Only the train split is ever augmented.
"""

from __future__ import annotations

import random
import re
from collections import Counter

# A small, offline synonym table for common English words (WordNet is not available offline).
SYNONYMS = {
    "good": ["great", "fine", "nice"], "bad": ["poor", "awful", "terrible"], "big": ["large", "huge"],
    "small": ["little", "tiny"], "fast": ["quick", "rapid"], "slow": ["sluggish", "unhurried"],
    "happy": ["glad", "pleased"], "sad": ["unhappy", "upset"], "buy": ["purchase", "get"],
    "help": ["assist", "support"], "problem": ["issue", "trouble"], "issue": ["problem"],
    "question": ["query"], "answer": ["reply", "response"], "start": ["begin"], "end": ["finish"],
    "need": ["require"], "want": ["wish", "would like"], "use": ["utilize"], "show": ["display"],
    "get": ["obtain", "receive"], "give": ["provide"], "make": ["create"], "fix": ["repair", "resolve"],
    "broken": ["faulty", "damaged"], "cheap": ["inexpensive"], "expensive": ["costly", "pricey"],
    "love": ["adore", "like"], "hate": ["dislike", "detest"], "easy": ["simple"], "hard": ["difficult"],
    "quickly": ["rapidly", "fast"], "very": ["really", "extremely"], "great": ["excellent", "good"],
    "terrible": ["awful", "horrible"], "order": ["purchase"], "send": ["ship", "mail"],
    "cancel": ["call off", "stop"], "change": ["modify", "alter"], "delete": ["remove", "erase"],
    "find": ["locate"], "tell": ["inform"], "ask": ["inquire"], "late": ["delayed", "overdue"],
    "wrong": ["incorrect"], "error": ["mistake", "fault"], "money": ["funds", "cash"],
    "refund": ["reimbursement"], "account": ["profile"], "price": ["cost"], "movie": ["film"],
    "film": ["movie"], "boring": ["dull", "tedious"], "funny": ["amusing", "hilarious"],
}
_WORD = re.compile(r"\S+")


def synonym_swap(words: list[str], n: int, rng: random.Random) -> list[str]:
    out = list(words)
    candidates = [i for i, w in enumerate(out) if w.lower() in SYNONYMS]
    for i in rng.sample(candidates, min(n, len(candidates))):
        out[i] = rng.choice(SYNONYMS[out[i].lower()])
    return out


def random_delete(words: list[str], share: float, rng: random.Random) -> list[str]:
    if len(words) < 3:
        return list(words)
    drop = {i for i, _ in enumerate(words) if rng.random() < share} or {rng.randrange(len(words))}
    return [w for i, w in enumerate(words) if i not in drop]


def random_swap(words: list[str], n: int, rng: random.Random) -> list[str]:
    out = list(words)
    for _ in range(n if len(out) > 1 else 0):
        i, j = rng.sample(range(len(out)), 2)
        out[i], out[j] = out[j], out[i]
    return out


def augment_text(text: str, share: float, rng: random.Random) -> str:
    """One variant of `text`: a synonym swap, a random deletion or a random swap, chosen at random."""
    words = _WORD.findall(text)
    n = max(1, round(len(words) * share))
    for _ in range(5):  # an operation can be a no-op (no synonym known, equal words swapped): retry
        operation = rng.choice((synonym_swap, random_delete, random_swap))
        changed = " ".join(operation(words, share if operation is random_delete else n, rng))
        if changed != " ".join(words):
            return changed
    return changed


def _eligible_labels(train: list[dict], only_below: int | None) -> set | None:
    if only_below is None:
        return None
    counts = Counter(r["label"] for r in train)
    return {label for label, n in counts.items() if n < only_below}


def augment_classification(train: list[dict], copies: int, share: float, only_below: int | None,
                           seed: int) -> list[dict]:
    """Synthetic variants of training texts (never identical to their original)."""
    rng = random.Random(seed)
    labels = _eligible_labels(train, only_below)
    out = []
    for record in train:
        if labels is not None and record["label"] not in labels:
            continue
        seen = {record["text"]}
        for copy in range(copies):
            text = augment_text(record["text"], share, rng)
            if text in seen:
                continue
            seen.add(text)
            meta = {**record.get("meta", {}), "augmented": True, "augmented_from": record["id"]}
            out.append({**record, "id": f"{record['id']}#aug{copy + 1}", "text": text, "meta": meta})
    return out


def augment_chat(train: list[dict], copies: int, project, seed: int) -> list[dict]:
    """Paraphrase the last user turn of each conversation with the base model; answers stay unchanged."""
    from tunesmith.data.paraphrase import paraphrase_questions

    return paraphrase_questions(train, copies, project, seed)


def augment_train(train: list[dict], task: str, config, counts: Counter, project) -> list[dict]:
    settings = config.augment
    if task == "classification":
        _warn_small_classes(train, config.min_class_examples, counts)
    if not settings.copies:
        return train
    if task == "classification":
        extra = augment_classification(train, settings.copies, settings.edit_share, settings.only_below,
                                       config.seed)
    elif task == "chat" and settings.paraphrase:
        extra = augment_chat(train, settings.copies, project, config.seed)
    else:
        extra = []
    counts["augmented"] = len(extra)
    return train + extra


def _warn_small_classes(train: list[dict], minimum: int, counts: Counter) -> None:
    from rich.text import Text

    from tunesmith.progress import console

    small = {label: n for label, n in Counter(r["label"] for r in train).items() if n < minimum}
    counts["small_classes"] = len(small)
    if small:
        listed = ", ".join(f"{label} ({n})" for label, n in sorted(small.items()))
        console.print(Text.assemble(("warning:", "yellow"), f" classes with fewer than {minimum} training examples: "
                                    f"{listed}. Add examples, or set data.augment.copies to synthesize variants."))
