"""An optional report of likely misspellings: words unknown to an English dictionary (pyspellchecker)
that are rare in the dataset, with the dictionary's suggestion."""

from __future__ import annotations

import re
from collections import Counter

from tunesmith.errors import DataError

_WORD = re.compile(r"[A-Za-z][a-z]{2,}")  # lower-case words of 3+ letters; skips acronyms and codes


def count_words(text: str, counter: Counter) -> None:
    counter.update(word.lower() for word in _WORD.findall(text))


def misspellings(words: Counter, max_count: int = 2, limit: int = 100) -> list[dict]:
    """Rare words (≤ max_count uses) the dictionary does not know; frequent ones are domain terms."""
    try:
        from spellchecker import SpellChecker
    except ImportError:
        raise DataError("data.spelling_report needs pyspellchecker",
                        "pip install 'tunesmith[data]' (or pyspellchecker), or set data.spelling_report: false.") \
            from None
    checker = SpellChecker()
    rare = [word for word, count in words.items() if count <= max_count]
    unknown = sorted(checker.unknown(rare))[:limit]
    return [{"word": word, "count": words[word], "suggestion": checker.correction(word) or ""} for word in unknown]
