"""Token logprobs in OpenAI's two response shapes: chat (`choices[].logprobs.content`) and legacy completions
(`tokens`, `token_logprobs`, `top_logprobs`, `text_offset`)."""

from __future__ import annotations

from functools import lru_cache

from tunesmith.serve.sampling import TokenLogprob


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """Byte-level BPE's printable stand-ins for the 256 byte values (GPT-2's table), reversed."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1))
    chars, extra = list(printable), 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


class TokenText:
    """A tokenizer's token ids as OpenAI shows them: the token's text and its exact UTF-8 bytes (a byte-level
    token can hold part of a character, which its text shows as U+FFFD)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self._cache: dict[int, tuple[str, list[int]]] = {}

    def __call__(self, token_id: int) -> tuple[str, list[int]]:
        if token_id not in self._cache:
            text = self.tokenizer.decode([token_id])
            piece = self.tokenizer.convert_ids_to_tokens(token_id) or ""
            table = _byte_decoder()
            raw = bytes(table[c] for c in piece) if piece and all(c in table for c in piece) else text.encode()
            self._cache[token_id] = text, list(raw)
        return self._cache[token_id]


def _clean(logprob: float) -> float:
    return max(logprob, -9999.0)  # -inf (a token masked to zero probability) is not valid JSON


def chat_logprobs(entries: list[TokenLogprob] | None, names: TokenText) -> dict | None:
    if entries is None:
        return None
    content = []
    for entry in entries:
        token, raw = names(entry.token_id)
        alternatives = [{"token": names(i)[0], "logprob": _clean(lp), "bytes": names(i)[1]} for i, lp in entry.top]
        content.append({"token": token, "logprob": _clean(entry.logprob), "bytes": raw,
                        "top_logprobs": alternatives})
    return {"content": content, "refusal": None}


def completion_logprobs(entries: list[TokenLogprob] | None, names: TokenText, offset: int = 0) -> dict | None:
    """`text_offset` counts characters of the completion from `offset` (0 for the first chunk: no echo)."""
    if entries is None:
        return None
    shape = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    for entry in entries:
        token = names(entry.token_id)[0]
        shape["tokens"].append(token)
        shape["token_logprobs"].append(_clean(entry.logprob))
        shape["top_logprobs"].append({names(i)[0]: _clean(lp) for i, lp in entry.top})
        shape["text_offset"].append(offset)
        offset += len(token)
    return shape
