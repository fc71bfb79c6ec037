"""Model calls for generative evaluation: batched answers with a progress bar, reference perplexity."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tunesmith.inference import Messages, generate_chat, render_prompt
from tunesmith.progress import console
from tunesmith.tools import Tool

Offered = Sequence[Sequence[Tool]] | None  # the tools offered to each conversation (None: no tools anywhere)


def _offered(tools: Offered, n: int) -> list[Sequence[Tool]]:
    return list(tools) if tools is not None else [()] * n


@contextlib.contextmanager
def progress_bar(description: str, total: int) -> Iterator:
    """A rich bar on stderr; `advance(n)` moves it."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)


def _length_order(tokenizer, conversations: Sequence[Messages], tools: Offered = None) -> list[int]:
    # Batching prompts of similar length wastes less compute on padding.
    offered = _offered(tools, len(conversations))
    lengths = [len(render_prompt(tokenizer, c, t)) for c, t in zip(conversations, offered, strict=True)]
    return sorted(range(len(conversations)), key=lambda i: lengths[i])


def generate_answers(model, tokenizer, conversations: Sequence[Messages], *, max_new_tokens: int,
                     batch_size: int, label: str = "generating", tools: Offered = None) -> list[str]:
    """Greedy answers to each conversation (with `tools[i]` offered), in input order, decoded as the server
    decodes them (continuous batching, at most `batch_size` rows at once)."""
    offered = _offered(tools, len(conversations))
    order = _length_order(tokenizer, conversations, offered)
    answers: list[str] = [""] * len(conversations)
    with progress_bar(label, len(conversations)) as advance:
        completions = generate_chat(model, tokenizer, [conversations[i] for i in order], [offered[i] for i in order],
                                    max_new_tokens=max_new_tokens, batch_size=batch_size, on_done=advance)
    for index, completion in zip(order, completions, strict=True):
        answers[index] = completion.text
    return answers


@torch.inference_mode()
def reference_nll(model, tokenizer, conversations: Sequence[Messages], references: Sequence[str], *,
                  batch_size: int, max_tokens: int = 1024, tools: Offered = None) -> list[tuple[float, int]]:
    """Per item: (total negative log-likelihood in nats, token count) of the reference after the prompt."""
    model.eval()
    pairs = []
    offered = _offered(tools, len(conversations))
    for conversation, reference, offer in zip(conversations, references, offered, strict=True):
        prompt_ids = tokenizer(render_prompt(tokenizer, conversation, offer), add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(reference, add_special_tokens=False)["input_ids"][: max_tokens // 2] or [
            tokenizer.eos_token_id]
        prompt_ids = prompt_ids[-(max_tokens - len(answer_ids)):]  # keep the end of a long prompt
        pairs.append((prompt_ids, answer_ids))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    results: list[tuple[float, int]] = []
    for start in range(0, len(pairs), batch_size):
        results += _batch_nll(model, pairs[start: start + batch_size], pad)
    return results


def _batch_nll(model, chunk: list[tuple[list[int], list[int]]], pad: int) -> list[tuple[float, int]]:
    # Left padding puts every answer at the end of its row, so only the last `keep` positions need
    # logits: with a 49k vocabulary the full logits tensor would dominate memory and time.
    width = max(len(p) + len(a) for p, a in chunk)
    keep = max(len(a) for _, a in chunk) + 1
    ids = torch.full((len(chunk), width), pad, dtype=torch.long)
    labels = torch.full((len(chunk), width), -100, dtype=torch.long)
    mask = torch.zeros((len(chunk), width), dtype=torch.long)
    for row, (p, a) in enumerate(chunk):
        ids[row, width - len(p) - len(a):] = torch.tensor(p + a)
        labels[row, width - len(a):] = torch.tensor(a)
        mask[row, width - len(p) - len(a):] = 1
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    inputs = {"input_ids": ids, "attention_mask": mask, "position_ids": positions}
    try:
        logits = model(**inputs, logits_to_keep=keep).logits
    except TypeError:  # architectures without logits_to_keep
        logits = model(**inputs).logits
    logits = logits[:, -keep:-1].float()
    targets = labels[:, width - keep + 1:]
    losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, ignore_index=-100, reduction="none")
    counted = (targets != -100).sum(dim=1)
    return [(float(total), int(n)) for total, n in zip(losses.sum(dim=1), counted, strict=True)]
