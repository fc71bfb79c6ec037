"""Opening a text source: its encoding settled once per file, and its lines read with bounded memory.

`auto` reads UTF-8 (a UTF-8 byte-order mark is removed with a warning) and UTF-16/32 files that start
with their byte-order mark. A file that is clearly in another encoding (latin-1/cp1252 bytes and no
UTF-8 at all in its first 64 KB, or UTF-16 without a mark) is refused once, with the `encoding:` to set
or the `iconv` command to run, instead of one error per line. Lines never hold more than the record
limit in memory: a longer line is skipped to its end and reported with its size.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

from tunesmith.data.issues import Issue, SourceError

UTF8_BOM = b"\xef\xbb\xbf"
_MARKED = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe", "utf-16"),
           (b"\xfe\xff", "utf-16"))
_SNIFF = 1 << 16
_SKIP_CHUNK = 1 << 16


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


class Decoding:
    """How one file's bytes become text: `codec` None means UTF-8 read as bytes (the fast path)."""

    def __init__(self, path: Path, name: str, encoding: str):
        self.codec: str | None = None
        self.utf8_bom = False
        self.notes: list[Issue] = []
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF)
        complete = len(head) < _SNIFF
        marked = next((codec for bom, codec in _MARKED if head.startswith(bom)), None)
        if encoding != "auto":
            declared = codecs.lookup(encoding).name
            if marked and not declared.startswith(marked):
                raise SourceError(name, f"starts with the byte-order mark of {marked.upper()}, but encoding: "
                                  f"{encoding} is set", "Remove the encoding option (auto reads it) or set "
                                  f"encoding: {marked}.")
            if _is_utf8(encoding):
                self.utf8_bom = head.startswith(UTF8_BOM)
            else:
                self.codec = declared
            return
        if marked:
            self.codec = marked
            self.notes.append(Issue(name, 0, "", f"read as {marked.upper()} (the file starts with its byte-order "
                                    "mark)", "Nothing to do; UTF-8 files are read faster.", "info"))
        elif head.startswith(UTF8_BOM):
            self.utf8_bom = True
            self.notes.append(Issue(name, 1, "", "byte-order mark removed", "Save without a BOM.", "warning"))
        else:
            _refuse_foreign_encoding(head, complete, name)


def _refuse_foreign_encoding(head: bytes, complete: bool, name: str) -> None:
    """Raise when the sample is UTF-16/32 without a mark or an 8-bit encoding; a UTF-8 file with a few
    broken bytes passes (its broken lines are reported one by one)."""
    if head.isascii() and b"\0" not in head:
        return
    base = Path(name).name
    if head.count(b"\0") * 4 >= len(head):
        odd_zero = head[1::2].count(0) / max(len(head[1::2]), 1)
        codec = "utf-16-le" if odd_zero > head[0::2].count(0) / max(len(head[0::2]), 1) else "utf-16-be"
        raise SourceError(name, f"looks like {codec.upper()} without a byte-order mark (a quarter or more of "
                          "its first bytes are NUL)", f"Set encoding: {codec} on this source in data.sources, or "
                          f"convert it: iconv -f {codec} -t utf-8 {base} > {Path(base).stem}.utf8{Path(base).suffix}")
    try:
        head.decode("utf-8")
        return
    except UnicodeDecodeError as err:
        if not complete and err.start >= len(head) - 3:  # a character cut by the end of the sample
            return
        first_bad = err.start
    text = head.decode("utf-8", "surrogateescape")
    if any(ord(ch) > 127 and not "\udc80" <= ch <= "\udcff" for ch in text):
        return  # real UTF-8 with some broken bytes: reported per line
    guess = "cp1252" if any(0x80 <= byte <= 0x9F for byte in head) else "latin1"  # names iconv and Python share
    line = head.count(b"\n", 0, first_bad) + 1
    raise SourceError(name, f"is not UTF-8 (byte 0x{head[first_bad]:02x} on line {line}); it looks like {guess}",
                      f"Set encoding: {guess} on this source in data.sources, or convert it: "
                      f"iconv -f {guess} -t utf-8 {base} > {Path(base).stem}.utf8{Path(base).suffix}")


class TextLines:
    """Numbered lines of one file as UTF-8 bytes (raw bytes when the file claims UTF-8 but is broken).

    Iterating yields (line number, bytes or None, size): None for a line longer than `limit`, which is
    skipped to its end in chunks, never held whole. A file that is not valid in its declared encoding
    raises a SourceError naming the line.
    """

    def __init__(self, path: Path, name: str, encoding: str, limit: int):
        self.decoding = Decoding(path, name, encoding)
        self.name, self.limit = name, limit
        codec = self.decoding.codec
        if codec is None:
            self._fh = open(path, "rb")  # noqa: SIM115 (closed by __exit__: readers use `with`)
            if self.decoding.utf8_bom:
                self._fh.read(len(UTF8_BOM))
        else:
            # lines end at \n only, as in the UTF-8 (bytes) path: line numbers do not depend on the encoding
            self._fh = open(path, encoding=codec, errors="strict", newline="\n")  # noqa: SIM115
        self._newline = b"\n" if codec is None else "\n"

    def __enter__(self) -> TextLines:
        return self

    def __exit__(self, *exc) -> None:
        self._fh.close()

    def _readline(self, size: int, number: int):
        try:
            return self._fh.readline(size)
        except UnicodeError as err:  # UnicodeDecodeError, or UTF-16/32 without their byte-order mark
            raise _not_valid(self.name, self.decoding.codec, err, f"on or after line {number}") from None

    def __iter__(self) -> Iterator[tuple[int, bytes | None, int]]:
        number = 0
        while True:
            chunk = self._readline(self.limit + 1, number + 1)
            if not chunk:
                return
            number += 1
            if len(chunk) > self.limit and not chunk.endswith(self._newline):
                size = len(chunk)
                while chunk and not chunk.endswith(self._newline):
                    chunk = self._readline(_SKIP_CHUNK, number)
                    size += len(chunk)
                yield number, None, size
                continue
            if self.decoding.codec is None:
                yield number, chunk, len(chunk)
            else:  # a byte-order mark the declared codec keeps (utf-16-le) is not text
                yield number, (chunk[1:] if number == 1 and chunk[:1] == "\ufeff" else chunk).encode(
                    "utf-8", "surrogatepass"), len(chunk)


def read_text(path: Path, name: str, encoding: str) -> tuple[str, list[Issue]]:
    """A whole (small) file as text, decoded like TextLines; invalid UTF-8 bytes become surrogates
    (U+DC80-U+DCFF, see `first_invalid`) for the reader to report with their line."""
    decoding = Decoding(path, name, encoding)
    raw = path.read_bytes()
    if decoding.codec is None:
        return raw[len(UTF8_BOM):].decode("utf-8", "surrogateescape") if decoding.utf8_bom else \
            raw.decode("utf-8", "surrogateescape"), decoding.notes
    try:
        return raw.decode(decoding.codec).removeprefix("\ufeff"), decoding.notes
    except UnicodeError as err:
        line = raw.count(b"\n", 0, getattr(err, "start", 0)) + 1
        raise _not_valid(name, decoding.codec, err, f"near line {line}") from None


def _not_valid(name: str, codec: str, err: UnicodeError, where: str) -> SourceError:
    what = f"byte 0x{err.object[err.start]:02x} {where}" if isinstance(err, UnicodeDecodeError) else str(err)
    return SourceError(name, f"is not valid {codec} ({what})",
                       "Set data.sources[].encoding to the file's encoding, or re-save it as UTF-8.")


def first_invalid(text: str) -> int | None:
    """Index of the first undecodable byte (a surrogate escape) in text, if any."""
    if text.isascii():
        return None
    return next((i for i, ch in enumerate(text) if "\udc80" <= ch <= "\udcff"), None)
