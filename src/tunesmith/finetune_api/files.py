"""Uploaded files: bytes on disk under the project's store folder, metadata in the store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tunesmith.finetune_api.errors import OpenAIError, bad_request, not_found
from tunesmith.finetune_api.store import Store, new_id, now
from tunesmith.finetune_api.uploads import parse_training_file

PURPOSES = {"fine-tune", "fine-tune-results"}


class FileService:
    def __init__(self, store: Store, folder: Path, max_bytes: int):
        self.store, self.folder, self.max_bytes = store, Path(folder), max_bytes
        self.folder.mkdir(parents=True, exist_ok=True)

    def upload(self, filename: str, content: bytes, purpose: str) -> dict[str, Any]:
        if purpose != "fine-tune":
            raise bad_request(f"purpose '{purpose}' is not supported here; use 'fine-tune'.", "purpose")
        if len(content) > self.max_bytes:
            raise OpenAIError(413, f"{filename} is {len(content) / 1e6:.1f} MB; the limit is "
                              f"{self.max_bytes / 1e6:.1f} MB (finetune_api.max_file_mb).", param="file",
                              code="file_too_large")
        records = parse_training_file(filename, content)
        return self._save(filename, content, purpose, len(records))

    def save_result(self, filename: str, content: bytes) -> dict[str, Any]:
        """A file the server itself produced for a job (OpenAI's `fine-tune-results`)."""
        return self._save(filename, content, "fine-tune-results", 0)

    def _save(self, filename: str, content: bytes, purpose: str, records: int) -> dict[str, Any]:
        file_id = new_id("file")
        path = self.folder / f"{file_id}.jsonl"
        staging = path.with_suffix(".partial")
        staging.write_bytes(content)
        os.replace(staging, path)
        return self.store.insert("files", {"id": file_id, "filename": Path(filename).name, "purpose": purpose,
                                           "bytes": len(content), "created_at": now(), "path": path.name,
                                           "records": records})

    def get(self, file_id: str, param: str = "file_id") -> dict[str, Any]:
        row = self.store.get("files", file_id)
        if row is None:
            raise not_found("file", file_id, param)
        return row

    def content(self, file_id: str) -> bytes:
        return (self.folder / self.get(file_id)["path"]).read_bytes()

    def records(self, file_id: str, param: str) -> list[dict[str, Any]]:
        row = self.get(file_id, param)
        if row["purpose"] != "fine-tune":
            raise bad_request(f"file {file_id} has purpose '{row['purpose']}', not 'fine-tune'.", param)
        return parse_training_file(row["filename"], self.content(file_id))

    def delete(self, file_id: str) -> dict[str, Any]:
        row = self.get(file_id)
        (self.folder / row["path"]).unlink(missing_ok=True)
        self.store.delete("files", file_id)
        return {"id": file_id, "object": "file", "deleted": True}

    def page(self, after: str | None, limit: int, order: str, purpose: str | None) -> tuple[list[dict], bool]:
        where, params = ("purpose = ?", (purpose,)) if purpose else ("1", ())
        return self.store.page("files", where=where, params=params, after=after, limit=limit,
                               newest_first=order != "asc")
