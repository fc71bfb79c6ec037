"""Deployment artifacts: `export(run_dir, format)` writes hf / gguf / adapter exports and checks parity."""

from tunesmith.deploy.export import FORMATS, ExportResult, export
from tunesmith.deploy.gguf_writer import GGUF_TYPES, write_gguf

__all__ = ["FORMATS", "GGUF_TYPES", "ExportResult", "export", "write_gguf"]
