"""Generated token ids → text deltas, incrementally: each token decodes a short window, not the whole answer.

Both engines (the PyTorch batch and llama.cpp) feed tokens through a TextStream, so streaming, stop
strings and half-characters behave the same whichever backend serves a request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tunesmith.serve.sampling import releasable

_BROKEN = "\ufffd"  # what a byte-level tokenizer shows for an incomplete UTF-8 character


class TextStream:
    """Incremental detokenization with a sliding window (the prefix keeps word-initial spaces right).

    `decode(ids) -> str` must skip special tokens. Text is committed only when the window decodes to
    whole characters, so `text` always equals the decode of the committed ids.
    """

    def __init__(self, decode: Callable[[list[int]], str], stop: Sequence[str] = ()):
        self.decode = decode
        self.stop = tuple(stop)
        self.ids: list[int] = []
        self.text = ""  # committed text (whole characters)
        self.sent = 0  # characters of `text` already handed out
        self.stopped = False  # a stop string ended the answer
        self._prefix = 0  # window start: decoded again so a token's leading space survives
        self._read = 0  # ids[:_read] are committed into `text`

    def push(self, token: int) -> None:
        self.ids.append(token)
        before = self.decode(self.ids[self._prefix:self._read])
        after = self.decode(self.ids[self._prefix:])
        if len(after) > len(before) and not after.endswith(_BROKEN):
            self.text += after[len(before):]
            self._prefix, self._read = self._read, len(self.ids)

    def _pending(self) -> str:
        """Text of the not yet committed ids (replacement marks for broken characters)."""
        if self._read == len(self.ids):
            return ""
        before = self.decode(self.ids[self._prefix:self._read])
        return self.decode(self.ids[self._prefix:])[len(before):]

    def release(self, final: bool = False) -> str:
        """The new text safe to send now ('' if none). Sets `stopped` when a stop string ended it."""
        if self.stopped:
            return ""
        text = self.text + self._pending() if final else self.text
        ready, self.stopped = releasable(text, self.stop, final=final)
        if len(ready) <= self.sent:
            return ""
        delta, self.sent = ready[self.sent:], len(ready)
        return delta
