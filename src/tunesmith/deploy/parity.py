"""Parity: replay held-out prompts greedily through the export and the training-time model.

Three things are compared per prompt: the prompt's token ids (catches a changed chat template or
tokenizer), the greedy answer (catches weights, end-of-turn and stop-token mismatches) and, when the
export can score tokens, its teacher-forced next-token agreement with the reference answer (see
agreement.py; the bar for quantized GGUF). The comparison itself is a pure function of the answers
and scores; runtimes only produce them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tunesmith.deploy.agreement import agreement, first_difference, targets_of

Messages = list[dict[str, str]]

BUILTIN_PROMPTS: tuple[str, ...] = (
    "Summarise what you can help me with in one sentence.",
    "My order arrived damaged. What should I do?",
    "Write a short, polite reply declining a meeting invitation.",
    "List three tips for writing clear emails.",
    "What is the difference between a refund and a store credit?",
    "Explain what an API key is to a non-technical person.",
    "Translate 'good morning' into French and Spanish.",
    "Give me a two-line summary of the water cycle.",
)


@dataclass
class Answer:
    prompt_ids: list[int]
    text: str
    completion_ids: list[int] | None = None  # compared instead of text when both sides have them
    end_id: int | None = None  # the end-of-turn token that closed the answer (None: cut at max tokens)


Runtime = Callable[[Sequence[Messages]], list[Answer]]


def golden_prompts(dataset_dir: Path | None, limit: int) -> tuple[list[Messages], str]:
    """Held-out conversations (test split, else validation) of a run's dataset (`RunFolder.dataset_dir`), cut
    before the last answer; the built-in prompts when there is none."""
    if dataset_dir is not None:
        from tunesmith.data import load_prepared

        dataset = load_prepared(dataset_dir)
        for split in ("test", "validation"):
            try:
                records = dataset.split(split)
            except Exception:  # a dataset without this split
                continue
            prompts = [_prompt_of(r) for r in records if r.get("messages")]
            prompts = [p for p in prompts if p]
            if prompts:
                return prompts[:limit], f"{Path(dataset_dir).name}/{split}"
    return builtin_prompts(limit), "built-in prompts"


def builtin_prompts(limit: int) -> list[Messages]:
    return [[{"role": "user", "content": text}] for text in BUILTIN_PROMPTS[:limit]]


def _prompt_of(record: dict) -> Messages:
    messages = [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
    while messages and messages[-1]["role"] == "assistant":
        messages.pop()
    return messages


def render(tokenizer, prompt: Messages, chat_template: str | None = None) -> str:
    extra = {"chat_template": chat_template} if chat_template else {}
    return tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True, **extra)


def cut_at_eos(ids: list[int], eos: set[int]) -> list[int]:
    end = next((i for i, token in enumerate(ids) if token in eos), len(ids))
    return ids[:end]


def transformers_runtime(model, tokenizer, max_new_tokens: int, chat_template: str | None = None) -> Runtime:
    import torch

    from tunesmith.models.loading import end_of_turn_ids

    eos = end_of_turn_ids(tokenizer, getattr(model, "generation_config", None))

    @torch.inference_mode()
    def run(prompts: Sequence[Messages]) -> list[Answer]:
        answers = []
        for prompt in prompts:  # one at a time: no padding, so nothing but the artifact can differ
            ids = tokenizer(render(tokenizer, prompt, chat_template), add_special_tokens=False)["input_ids"]
            prompt_ids = torch.tensor([ids])
            out = model.generate(input_ids=prompt_ids, attention_mask=torch.ones_like(prompt_ids),
                                 max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=sorted(eos) or None,
                                 pad_token_id=tokenizer.pad_token_id)
            generated = out[0, len(ids):].tolist()
            new = cut_at_eos(generated, eos)
            end = generated[len(new)] if len(new) < len(generated) else None
            answers.append(Answer(ids, tokenizer.decode(new, skip_special_tokens=True).strip(), new, end))
        return answers

    return run


def engine_runtime(model, tokenizer, max_new_tokens: int) -> Runtime:
    """The training-time model answering as `tunesmith serve` and evaluation decode (the reference every export
    is held to), greedy."""
    from tunesmith.serve.local import loaded_for, run_prompts
    from tunesmith.serve.sampling import SamplingParams

    def run(prompts: Sequence[Messages]) -> list[Answer]:
        ids = [tokenizer(render(tokenizer, p), add_special_tokens=False)["input_ids"] for p in prompts]
        params = [SamplingParams(max_tokens=max_new_tokens)] * len(ids)
        answers = run_prompts(loaded_for(model, tokenizer), ids, params)
        return [Answer(prompt, tokenizer.decode(a.ids, skip_special_tokens=True).strip(), a.ids,
                       a.finished.end_token) for prompt, a in zip(ids, answers, strict=True)]

    return run


def folder_tokenizer(folder: Path):
    """The tokenizer saved in an export folder, exactly as a user would load it."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


def _divergence(reference: str, candidate: str) -> int:
    at = first_difference(reference, candidate)
    return len(reference) if at is None else at


GATES = ("exact_match_rate", "next_token_agreement")


def compare(prompts: Sequence[Messages], reference: list[Answer], candidate: list[Answer], threshold: float,
            predicted: list[list[int]] | None = None, gate: str = "exact_match_rate") -> dict:
    """Rates, the first divergence, and pass/fail of `gate` against `threshold`.

    `predicted` holds the export's teacher-forced argmax at each position of each reference answer
    (agreement.targets_of); with it the report adds `next_token_agreement`. Every gate also requires
    every prompt to render to the same token ids.
    """
    if gate not in GATES:
        raise ValueError(f"unknown parity gate {gate!r}; choose one of {GATES}")
    if gate == "next_token_agreement" and predicted is None:
        raise ValueError("the next_token_agreement gate needs the export's teacher-forced predictions")
    cases, first, hits, scored = [], None, 0, 0
    for index, (prompt, ref, cand) in enumerate(zip(prompts, reference, candidate, strict=True)):
        same_prompt = ref.prompt_ids == cand.prompt_ids
        both_ids = ref.completion_ids is not None and cand.completion_ids is not None
        same_answer = ref.completion_ids == cand.completion_ids if both_ids else ref.text == cand.text
        shared = 1.0 if same_answer else _divergence(ref.text, cand.text) / max(1, len(ref.text))
        case = {"prompt": prompt[-1]["content"][:120], "prompt_tokens_match": same_prompt,
                "answer_match": same_answer, "shared_prefix": round(shared, 3)}
        if both_ids:
            at = first_difference(targets_of(ref), targets_of(cand))
            case["first_divergent_token"] = len(targets_of(ref)) if at is None else at
        if predicted is not None:
            good, total = agreement(targets_of(ref), predicted[index])
            hits, scored = hits + good, scored + total
            case["next_token_agreement"] = round(good / max(1, total), 4)
        cases.append(case)
        if first is None and not (same_prompt and same_answer):
            at = _divergence(ref.text, cand.text)
            token_at = first_difference(ref.prompt_ids, cand.prompt_ids) if not same_prompt else None
            first = {"prompt_index": index, "prompt": prompt[-1]["content"][:200],
                     "prompt_token_index": token_at, "answer_char_index": None if same_answer else at,
                     "answer_token_index": case.get("first_divergent_token") if not same_answer else None,
                     "reference": ref.text[max(0, at - 30): at + 60], "exported": cand.text[max(0, at - 30): at + 60]}
    n = max(1, len(cases))
    report = {"prompts": len(cases), "exact_match_rate": sum(c["answer_match"] for c in cases) / n,
              "prompt_token_match_rate": sum(c["prompt_tokens_match"] for c in cases) / n,
              "mean_shared_prefix": round(sum(c["shared_prefix"] for c in cases) / n, 3)}
    divergences = [c["first_divergent_token"] for c in cases if "first_divergent_token" in c]
    if divergences:
        report["mean_first_divergence"] = round(sum(divergences) / len(divergences), 2)
    if predicted is not None:
        report["next_token_agreement"] = round(hits / max(1, scored), 4)
        report["scored_tokens"] = scored
    passed = report[gate] >= threshold and report["prompt_token_match_rate"] == 1.0
    return {**report, "gate": gate, "threshold": threshold, "passed": passed, "first_divergence": first,
            "cases": cases}


def divergence_line(report: dict) -> str:
    """The first divergent example of a report, for the error a failed check raises."""
    where = report.get("first_divergence")
    if not where:
        return "no single prompt diverged"
    if where.get("prompt_token_index") is not None:
        what = f"the prompt renders differently from token {where['prompt_token_index']}"
    else:
        what = f"the trained model answers {where.get('reference')!r}, the export {where.get('exported')!r}"
    return f"first divergent example, prompt {where.get('prompt_index')} {where.get('prompt')!r}: {what}"


def write_report(folder: Path, report: dict) -> Path:
    path = Path(folder) / "parity.json"
    report = {**report, "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
