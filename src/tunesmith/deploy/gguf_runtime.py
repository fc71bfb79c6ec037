"""Run an exported GGUF for the parity check: llama-cpp-python when installed, else transformers.

Either way the prompt is rendered with the chat template stored in the GGUF and tokenized by the
GGUF's own tokenizer, so the file is tested as a deployment would use it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from tunesmith.deploy.parity import Answer, Messages, Runtime, cut_at_eos, eos_set, transformers_runtime
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


def open_llama(path: Path, context: int = 2048, threads: int | None = None):
    import os

    from llama_cpp import Llama

    # llama-cpp-python defaults to half the cores; decoding here is compute-bound, so use them all.
    threads = threads or os.cpu_count() or 1
    return Llama(model_path=str(path), n_ctx=context, n_threads=threads, n_threads_batch=threads, n_batch=512,
                 verbose=False, seed=0)


def llama_cpp_runtime(path: Path, render_tokenizer, max_new_tokens: int) -> Runtime:
    llm = open_llama(path)
    template = llm.metadata.get("tokenizer.chat_template")
    eos = eos_set(None, render_tokenizer) | {llm.token_eos()}

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
            new = cut_at_eos(new, eos)
            answers.append(Answer(list(ids), render_tokenizer.decode(new, skip_special_tokens=True).strip(), new))
        return answers

    return run


def transformers_gguf_runtime(path: Path, max_new_tokens: int) -> Runtime:
    import tempfile

    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Alone in a folder: with tokenizer files beside it, transformers would read those instead of the GGUF's.
    with tempfile.TemporaryDirectory(prefix="gguf-parity-") as alone:
        (Path(alone) / path.name).symlink_to(path.resolve())
        tokenizer = AutoTokenizer.from_pretrained(alone, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(alone, gguf_file=path.name).eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return transformers_runtime(model, tokenizer, max_new_tokens)
