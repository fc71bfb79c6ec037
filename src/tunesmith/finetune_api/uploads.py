"""Check an uploaded fine-tuning file with the data pipeline, so a broken file fails at upload with its
line numbers (not hours later in the job).

The upload goes through `tunesmith.data`'s ingest exactly like a project source: read, detect the format
(OpenAI chat with per-message `weight`, prompt/completion, and every other chat format tunesmith reads),
convert to canonical chat records, clean with the project's `data` settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunesmith.config.data import DataConfig, SourceConfig
from tunesmith.data.ingest import Ingested, ingest
from tunesmith.errors import DataError
from tunesmith.finetune_api.errors import OpenAIError

MAX_LISTED = 5


def _invalid(message: str) -> OpenAIError:
    return OpenAIError(400, message, param="file", code="invalid_file_format")


def read_training_file(path: Path, data: DataConfig) -> list[dict[str, Any]]:
    """Canonical chat records of a stored upload, or a 400 that lists its broken lines (file:line: field)."""
    if not path.read_bytes().strip():
        raise _invalid(f"{path.name} has no training examples.")
    state = Ingested()
    try:
        records = [record for _, record in ingest(path.parent, [(path, SourceConfig(path=path.name))], data,
                                                  "chat", state)]
    except DataError as err:
        raise _invalid(str(err) if str(err).startswith(path.name) else f"{path.name}: {err}") from None
    if state.errors:
        lines = sorted({n for issue in state.errors for n in issue.lines or (issue.line,)})  # repeats collapse
        listed = "; ".join(str(issue) for issue in state.errors[:MAX_LISTED])
        more = f"; and {len(state.errors) - MAX_LISTED} more" if len(state.errors) > MAX_LISTED else ""
        raise _invalid(f"{len(state.rejects)} invalid line(s) in {path.name} (line {', '.join(map(str, lines[:10]))}): "
                       f"{listed}{more}. Fix the file and upload it again.")
    if not records:
        raise _invalid(f"{path.name} has no training examples.")
    if not any(m["role"] == "assistant" and m.get("weight", 1) for r in records for m in r["messages"]):
        raise _invalid(f"{path.name}: every assistant message has weight 0, so there is nothing to learn; "
                       "set weight 1 (or leave it out) on the answers to train on.")
    return records
