"""Files tunesmith hands to the user get the permissions of any file the user writes.

Some libraries write through private temporary files (transformers' safetensors writer and `tempfile.mkstemp`
leave 0600, `mkdtemp` 0700), so a model exported for a web server or a colleague would be unreadable to them.
`as_user_files` gives a file 0666 and a folder 0777, less the process umask, exactly what `open()` and
`mkdir()` would have given them.
"""

from __future__ import annotations

import os
from pathlib import Path


def current_umask() -> int:
    """The process umask, read without changing it where Linux reports it (threads may be creating files)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def as_user_files(path: str | Path) -> None:
    """`path` (a file, or a folder and everything in it) with the permissions the umask gives new files."""
    path = Path(path)
    mask = current_umask()
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        if item.is_symlink() or not item.exists():
            continue
        os.chmod(item, (0o777 if item.is_dir() else 0o666) & ~mask)
