"""Uploaded files: bytes on disk under the project's store folder, metadata in the store."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from tunesmith.config.data import DataConfig
from tunesmith.finetune_api.errors import OpenAIError, bad_request, not_found
from tunesmith.finetune_api.store import Store, new_id, now
from tunesmith.finetune_api.uploads import read_training_file

UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 255  # the longest name most filesystems allow, and the most of a client's name reported back
MAX_DISK_NAME = 100

PURPOSES = {"fine-tune", "fine-tune-results"}


def disk_name(filename: str) -> str:
    """A safe, short name for the stored copy: letters, digits, `._-`; at most 100 characters, extension kept."""
    name = UNSAFE.sub("_", Path(filename).name).lstrip(".") or "upload.jsonl"
    if len(name) <= MAX_DISK_NAME:
        return name
    suffix = Path(name).suffix[:16]
    return name[:MAX_DISK_NAME - len(suffix)] + suffix


class FileService:
    def __init__(self, store: Store, folder: Path, max_bytes: int, data: DataConfig):
        self.store, self.folder, self.max_bytes, self.data = store, Path(folder), max_bytes, data
        self.folder.mkdir(parents=True, exist_ok=True)

    def upload(self, filename: str, content: bytes, purpose: str) -> dict[str, Any]:
        if purpose != "fine-tune":
            raise bad_request(f"purpose '{purpose}' is not supported here; use 'fine-tune'.", "purpose")
        if len(content) > self.max_bytes:
            raise OpenAIError(413, f"{filename} is {len(content) / 1e6:.1f} MB; the limit is "
                              f"{self.max_bytes / 1e6:.1f} MB (finetune_api.max_file_mb).", param="file",
                              code="file_too_large")
        return self._save(filename, content, purpose, validate=True)

    def save_result(self, filename: str, content: bytes) -> dict[str, Any]:
        """A file the server itself produced for a job (OpenAI's `fine-tune-results`)."""
        return self._save(filename, content, "fine-tune-results", validate=False)

    def _save(self, filename: str, content: bytes, purpose: str, validate: bool) -> dict[str, Any]:
        file_id = new_id("file")
        folder = self.folder / file_id
        path = folder / disk_name(filename)
        try:
            folder.mkdir(parents=True)
            path.write_bytes(content)
            records = len(read_training_file(path, self.data)) if validate else 0
        except BaseException:  # a rejected or failed upload leaves nothing behind
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return self.store.insert("files", {"id": file_id, "filename": Path(filename).name[:MAX_NAME],
                                           "purpose": purpose, "bytes": len(content), "created_at": now(),
                                           "path": f"{file_id}/{path.name}", "records": records})

    def get(self, file_id: str, param: str = "file_id") -> dict[str, Any]:
        row = self.store.get("files", file_id)
        if row is None:
            raise not_found("file", file_id, param)
        return row

    def path(self, file_id: str) -> Path:
        path = self.folder / self.get(file_id)["path"]
        if not path.exists():
            raise not_found("file content", file_id, "file_id")
        return path

    def require_training_file(self, file_id: str, param: str) -> dict[str, Any]:
        row = self.get(file_id, param)
        if row["purpose"] != "fine-tune":
            raise bad_request(f"file {file_id} has purpose '{row['purpose']}', not 'fine-tune'.", param)
        return row

    def records(self, file_id: str, param: str) -> list[dict[str, Any]]:
        row = self.require_training_file(file_id, param)
        path = self.folder / row["path"]
        if not path.exists():
            raise bad_request(f"the content of file {file_id} is gone from the server.", param)
        return read_training_file(path, self.data)

    def delete(self, file_id: str) -> dict[str, Any]:
        row = self.get(file_id)
        shutil.rmtree((self.folder / row["path"]).parent, ignore_errors=True)
        self.store.delete("files", file_id)
        return {"id": file_id, "object": "file", "deleted": True}

    def page(self, after: str | None, limit: int, order: str, purpose: str | None) -> tuple[list[dict], bool]:
        where, params = ("purpose = ?", (purpose,)) if purpose else ("1", ())
        return self.store.page("files", where=where, params=params, after=after, limit=limit,
                               newest_first=order != "asc")
