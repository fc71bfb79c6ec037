"""Run an exported GGUF for the parity check: llama-cpp-python when installed, else transformers.

Either way the prompt is rendered with the chat template stored in the GGUF and tokenized by the
GGUF's own tokenizer, so the file is tested as a deployment would use it. Each runtime comes with a
scorer (agreement.py) that runs the same file teacher-forced.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from tunesmith.deploy.agreement import Case, Scorer, transformers_scorer
from tunesmith.deploy.parity import Answer, Messages, Runtime, cut_at_eos, transformers_runtime
from tunesmith.errors import TunesmithError


def llama_cpp_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def pick_runtime(preference: str) -> str:
    if preference == "llama-cpp" and not llama_cpp_available():
        raise TunesmithError("llama-cpp-python is not installed.",
                             "Install the extra: pip install 'tunesmith[llamacpp]' (compiles ~5 min).")
    if preference == "auto":
        return "llama-cpp" if llama_cpp_available() else "transformers"
    return preference


def open_llama(path: Path, context: int = 2048, threads: int | None = None, logits_all: bool = False):
    import os

    from llama_cpp import Llama

    # llama-cpp-python defaults to half the cores; decoding here is compute-bound, so use them all.
    threads = threads or os.cpu_count() or 1
    return Llama(model_path=str(path), n_ctx=context, n_threads=threads, n_threads_batch=threads, n_batch=512,
                 verbose=False, seed=0, logits_all=logits_all)


def _parity_threads() -> int | None:
    """The parity check follows OMP_NUM_THREADS like torch does (tests and shared machines pin it to 1)."""
    import os

    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def llama_cpp_scorer(path: Path) -> Scorer:
    """Teacher-forced argmax from llama.cpp: one batch over prompt + answer with logits for every position."""

    def score(cases: Sequence[Case]) -> list[list[int]]:
        longest = max((len(p) + len(t) for p, t in cases), default=1)
        # logits_all keeps n_ctx x vocab floats, so size the context to the longest case, not the model's.
        llm = open_llama(path, context=max(64, -(-longest // 64) * 64), threads=_parity_threads(), logits_all=True)
        out = []
        for prompt_ids, targets in cases:
            if not targets:
                out.append([])
                continue
            llm.reset()
            llm.eval(list(prompt_ids) + list(targets[:-1]))
            out.append(llm.scores[len(prompt_ids) - 1: len(prompt_ids) + len(targets) - 1].argmax(-1).tolist())
        del llm
        return out

    return score


def llama_cpp_runtime(path: Path, render_tokenizer, max_new_tokens: int) -> Runtime:
    from tunesmith.models.loading import end_of_turn_ids

    llm = open_llama(path, threads=_parity_threads())
    template = llm.metadata.get("tokenizer.chat_template")
    eos = end_of_turn_ids(render_tokenizer) | {llm.token_eos()}

    def run(prompts: Sequence[Messages]) -> list[Answer]:
        answers = []
        for prompt in prompts:
            text = render_tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True,
                                                        chat_template=template)
            ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            new: list[int] = []
            for token in llm.generate(ids, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0, reset=True):
                new.append(token)
                if token in eos or len(new) >= max_new_tokens:
                    break
            end = new[-1] if new and new[-1] in eos else None
            new = cut_at_eos(new, eos)
            answers.append(Answer(list(ids), render_tokenizer.decode(new, skip_special_tokens=True).strip(), new, end))
        return answers

    return run


def transformers_gguf_runtime(path: Path, max_new_tokens: int) -> tuple[Runtime, Scorer]:
    import tempfile

    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Alone in a folder: with tokenizer files beside it, transformers would read those instead of the GGUF's.
    with tempfile.TemporaryDirectory(prefix="gguf-parity-") as alone:
        (Path(alone) / path.name).symlink_to(path.resolve())
        tokenizer = AutoTokenizer.from_pretrained(alone, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(alone, gguf_file=path.name).eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return transformers_runtime(model, tokenizer, max_new_tokens), transformers_scorer(model)
