"""Constrained decoding: a per-request grammar masks the logits before each token is sampled.

Built on llguidance (guidance-ai; the structured-output engine behind vLLM's, SGLang's and llama.cpp's
`guidance` backends): one dependency-free wheel; a grammar (Lark with embedded JSON schemas) costs nothing
to start, because the token mask is computed lazily for each step (tens of microseconds) instead of
compiling an automaton over the whole vocabulary first (outlines-core), and it needs no torch build of its own
(xgrammar pulls triton here). `response_format` and `tool_choice` become grammars here; `Constraint` is
the logits processor the sampling step applies (serve.sampling.adjusted_logits).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import torch

from tunesmith.tools import CLOSE, OPEN, Tool
from tunesmith.tools.syntax import ITEM_SEPARATOR, KEY_SEPARATOR

_LAYOUT = {"whitespace_flexible": False, "item_separator": ITEM_SEPARATOR, "key_separator": KEY_SEPARATOR}
_TOKENIZERS: dict[int, tuple[object, object]] = {}
_LOCK = threading.Lock()


class ConstraintError(RuntimeError):
    """The grammar left no token to choose (a bug or an impossible schema): this request fails, not the batch."""


def lltokenizer(tokenizer):
    """llguidance's view of a Hugging Face tokenizer (~2 s to build, so kept per tokenizer). Its end token is
    the tokenizer's EOS; a model's other end-of-turn tokens are allowed wherever that one is (Constraint)."""
    import llguidance.hf

    with _LOCK:
        if id(tokenizer) not in _TOKENIZERS or _TOKENIZERS[id(tokenizer)][0] is not tokenizer:
            _TOKENIZERS[id(tokenizer)] = tokenizer, llguidance.hf.from_tokenizer(tokenizer)
        return _TOKENIZERS[id(tokenizer)][1]


def _json(schema: dict[str, Any]) -> str:
    """A schema as a Lark `%json` item, in the one JSON layout (json.dumps' separators, no free whitespace)."""
    return "%json " + json.dumps({**schema, "x-guidance": _LAYOUT})


def json_grammar(schema: dict[str, Any] | None) -> str:
    """Any JSON object (`json_object`), or a value valid against `schema` (`json_schema`)."""
    return f"start: {_json(schema if schema is not None else {'type': 'object'})}\n"


def tools_grammar(tools: Sequence[Tool], required: bool, parallel: bool) -> str:
    """Calls to `tools` as `<tool_call>` blocks, one or (`parallel`) more, separated by newlines and ending the
    answer. Required: the answer is only calls. Otherwise the model may answer in text, or write text and then
    calls: once it opens a block (a lazy trigger), the block must be a valid call."""
    bodies = "\n".join(
        f'body_{i}: {json.dumps("{" + json.dumps("name") + KEY_SEPARATOR + json.dumps(tool.name) + ITEM_SEPARATOR)}'
        f' {json.dumps(json.dumps("arguments") + KEY_SEPARATOR)} {_json(tool.parameters)} "}}"'
        for i, tool in enumerate(tools))
    rules = ["body: " + " | ".join(f"body_{i}" for i in range(len(tools))), bodies,
             f"call: {json.dumps(OPEN + chr(10))} body {json.dumps(chr(10) + CLOSE)}"]
    more = f" ({json.dumps(chr(10))} call)*" if parallel else ""
    if required:
        return "\n".join([f"start: call{more}", *rules]) + "\n"
    return "\n".join([
        "%llguidance {}", f"start: tail | first_call{more}", "tail: TEXT", r"TEXT: /(.|\n)*/",
        f"trigger[lazy]: TEXT {json.dumps(OPEN)}",
        f"first_call: trigger {json.dumps(chr(10))} body {json.dumps(chr(10) + CLOSE)}", *rules]) + "\n"


def check(grammar: str, tokenizer) -> str | None:
    """Why llguidance cannot use `grammar` (an unsupported schema keyword, say), or None."""
    from llguidance import LLMatcher

    try:
        failed, messages = LLMatcher.validate_grammar_with_warnings(LLMatcher.grammar_from_lark(grammar),
                                                                    lltokenizer(tokenizer))
    except (ValueError, RuntimeError) as err:  # a schema llguidance cannot even read
        return str(err) or type(err).__name__
    return messages[0] if failed else None


class Constraint:
    """One request's grammar state: masks the logits for the next token, then follows the token chosen."""

    def __init__(self, grammar: str, tokenizer, eos_ids: Sequence[int] = ()):
        import llguidance

        view = lltokenizer(tokenizer)
        self.eos, self.ends = view.eos_token, sorted(set(eos_ids) | {view.eos_token})
        self.matcher = llguidance.LLMatcher(view, llguidance.LLMatcher.grammar_from_lark(grammar), log_level=0)
        if self.matcher.is_error():
            raise ConstraintError(self.matcher.get_error())
        self.consumed = 0  # answer tokens followed so far

    def allowed(self, size: int) -> torch.Tensor:
        """A bool row over `size` logits: True where the grammar allows the token. Where the grammar forces the
        next text (`{"name": "` after `<tool_call>`, say), only the first token of its usual tokenization is
        allowed: a model would otherwise be free to spell forced text in odd pieces, one character per step."""
        import numpy as np

        forced = self.forced(size)
        if forced is not None:
            allowed = torch.zeros(size, dtype=torch.bool)
            allowed[forced] = True
            return allowed
        bits = np.unpackbits(np.frombuffer(self.matcher.compute_bitmask(), dtype=np.uint8), bitorder="little")
        allowed = torch.zeros(size, dtype=torch.bool)
        width = min(size, bits.shape[0])
        allowed[:width] = torch.from_numpy(bits[:width].astype(bool))
        if self.eos < size and allowed[self.eos]:
            allowed[[e for e in self.ends if e < size]] = True
        if self.matcher.is_error() or not bool(allowed.any()):
            raise ConstraintError(f"the grammar allows no next token ({self.matcher.get_error() or 'stopped'})")
        return allowed

    def forced(self, size: int) -> int | None:
        """The one token the grammar allows next (the first of the forced text's usual tokenization), or None
        where the model has a choice. Never an end token: `only_end` says when the answer must end."""
        forced = self.matcher.compute_ff_tokens()
        return forced[0] if forced and forced[0] < size and forced[0] not in self.ends else None

    def only_end(self) -> bool:
        """Whether the grammar is complete and allows nothing but an end token (a required call, closed)."""
        return self.matcher.is_stopped() and not self.matcher.is_error()

    def mask(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.masked_fill(~self.allowed(logits.shape[-1]), float("-inf"))

    def accept(self, token: int) -> None:
        token = self.eos if token in self.ends else int(token)
        if not self.matcher.consume_token(token):
            raise ConstraintError(f"token {token} broke the grammar: {self.matcher.get_error()}")
        self.consumed += 1


class GenerateProcessor:
    """A sequence's logits processors as a transformers LogitsProcessor, for `model.generate` (the plain path)."""

    def __init__(self, adjust, prompt_length: int):
        self.adjust = adjust  # batch.Sequence.adjust: (logits row, generated ids) -> logits row
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        generated = input_ids[0, self.prompt_length:].tolist()
        return self.adjust(scores[0], generated).unsqueeze(0)
