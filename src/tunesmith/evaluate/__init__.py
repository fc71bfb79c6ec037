"""Honest numbers on unseen data: base zero-shot vs prompt-engineered few-shot vs fine-tuned runs.

`compare(project, dataset, run_dirs)` scores every contender on the same held-out split, adds 95%
intervals (Wilson for 0/1 metrics, BCa bootstrap otherwise) and paired tests, says in plain words
whether fine-tuning beat prompting, and writes `eval/report.{json,html}`.
"""

from __future__ import annotations

from tunesmith.evaluate.compare import compare, evaluate_contenders, summarize
from tunesmith.evaluate.comparison import Comparison
from tunesmith.evaluate.contenders import ChatContender, ContenderResult, model_contender, score_chat
from tunesmith.evaluate.items import ChatItem, ClassItem, chat_items, class_items

__all__ = [
    "ChatContender", "ChatItem", "ClassItem", "Comparison", "ContenderResult", "chat_items", "class_items",
    "compare", "evaluate_contenders", "model_contender", "score_chat", "summarize",
]
