"""Where a source is and which files it reads: its kind, the checks every read starts with (exists, not a
link loop, readable, inside the project unless allowed), a folder's data files, its size and hash."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

from tunesmith.data.issues import Issue, SourceError

KINDS = ("jsonl", "json", "csv", "tsv", "parquet", "txt", "folder", "txt_folder", "hf_dataset")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
             ".parquet": "parquet", ".txt": "txt", ".md": "txt"}


def source_kind(path: Path) -> str:
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists() \
                or (path / "state.json").exists():
            return "hf_dataset"
        return "folder" if any(kind != "txt" for _, kind in folder_files(path, path.name)[0]) \
            else "txt_folder"
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise SourceError(path.name, f"unsupported file type '{path.suffix}'",
                          f"Use one of {', '.join(sorted(_SUFFIXES))}, a folder of them or a saved Hugging Face "
                          "dataset folder.")
    return kind


def check_source(path: Path, name: str, root: Path | None, allow_outside: bool) -> list[Issue]:
    """Refuse a source that is missing, a link loop, unreadable or (unless allowed) outside `root`;
    return the notice for an allowed outside source. Validate and prepare both start here."""
    try:
        resolved = path.resolve(strict=True)
    except (RuntimeError, OSError) as err:  # Python 3.11 reports a loop as RuntimeError, later ones as ELOOP
        if isinstance(err, RuntimeError) or err.errno == errno.ELOOP:
            raise SourceError(name, "is a symbolic link that loops back on itself",
                              "Point the link at the real file or folder, or use its real path in data.sources.") \
                from None
        raise SourceError(name, f"does not exist (looked in {path})", "Fix data.sources[].path in tunesmith.yaml; "
                          "paths are relative to the project folder.") from None
    if not (resolved.is_file() or resolved.is_dir()):
        raise SourceError(name, "is not a file or folder", "Point data.sources[].path at a data file or folder.")
    if not os.access(resolved, os.R_OK):
        raise SourceError(name, "cannot be read (permission denied)", f"Allow reading it: chmod u+r {resolved}")
    if root is None:
        return []
    try:
        resolved.relative_to(root.resolve())
        return []
    except ValueError:
        pass
    if not allow_outside:
        raise SourceError(name, f"is outside the project folder {root.resolve()}",
                          "Copy or move it into the project folder, or set allow_outside: true on this source "
                          "in data.sources to read it from there.")
    return [Issue(name, 0, "", f"read from outside the project folder: {resolved}",
                  "allow_outside: true is set on this source.", "info")]


def folder_files(path: Path, name: str) -> tuple[list[tuple[Path, str]], list[str]]:
    """(file, kind) of the data files in a folder, sorted and recursive, and the names it skips."""
    try:
        entries = sorted(p for p in path.rglob("*") if p.is_file())
    except OSError as err:
        raise SourceError(name, f"cannot be listed ({err.strerror})", "Fix the folder (e.g. a link loop inside it).") \
            from None
    files, skipped = [], []
    for file in entries:
        relative = file.relative_to(path)
        if any(part.startswith(".") for part in relative.parts):
            continue  # hidden files and folders (.DS_Store, .git)
        kind = _SUFFIXES.get(file.suffix.lower())
        if kind is None:
            skipped.append(relative.as_posix())
        else:
            files.append((file, kind))
    return files, skipped


def source_parts(path: Path, name: str) -> tuple[list[tuple[Path, str, str]], list[Issue]]:
    """The (path, kind, shown name) a source reads: the file itself, or a folder's data files in sorted
    order (each with its own line numbers) plus the folder as one txt record per .txt/.md file."""
    kind = source_kind(path)
    if kind not in ("folder", "txt_folder"):
        return [(path, kind, name)], []
    files, skipped = folder_files(path, name)
    parts = [(file, kind, f"{name}/{file.relative_to(path).as_posix()}") for file, kind in files if kind != "txt"]
    if any(kind == "txt" for _, kind in files):
        parts.append((path, "txt_folder", name))
    notes = [Issue(name, 0, "", f"{len(skipped)} file(s) of unsupported type skipped: {', '.join(skipped[:5])}"
                   + (", …" if len(skipped) > 5 else ""), f"Supported: {', '.join(sorted(_SUFFIXES))}.",
                   "warning")] if skipped else []
    if not parts:
        raise SourceError(name, "is a folder with no data files", f"Put {', '.join(sorted(_SUFFIXES))} files in it.")
    return parts, notes


class ReadMeter:
    """Bytes of sources read so far, for the progress bar. JSON Lines and tables count line by line; the
    other readers hold a file (JSON, txt) or a table in memory anyway, and their source counts once done."""

    __slots__ = ("bytes",)

    def __init__(self):
        self.bytes = 0


def source_size(path: Path) -> int:
    """Bytes of a file, or of every file inside a folder."""
    try:
        if path.is_dir():
            return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return path.stat().st_size
    except OSError:
        return 0


def source_hash(path: Path) -> str:
    """Content hash of a file, or of every file (name and bytes) inside a folder."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
