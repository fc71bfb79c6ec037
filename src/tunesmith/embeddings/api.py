"""`tunesmith.embed(texts, model=...)` and the sentence-transformers export of an embedding run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tunesmith.embeddings.encoder import SentenceEncoder
from tunesmith.errors import TunesmithError

DEFAULT_MODEL = "minilm-l6"
PARITY_COSINE = 0.999  # an exported model whose embeddings differ more than this from the run's is refused
_LOADED: dict[tuple[str, float], SentenceEncoder] = {}  # (resolved source, its mtime) → encoder


def _encoder(model: str | Path) -> SentenceEncoder:
    from tunesmith.embeddings.load import load_embedder

    path = Path(model)
    key = (str(path.resolve()) if path.exists() else str(model), path.stat().st_mtime if path.exists() else 0.0)
    if key not in _LOADED:
        _LOADED.clear()  # one model in memory at a time
        _LOADED[key] = load_embedder(model)
    return _LOADED[key]


def embed(texts: str | Sequence[str], model: str | Path = DEFAULT_MODEL, dimensions: int | None = None,
          batch_size: int = 64) -> np.ndarray:
    """Embeddings (float32; unit length when the model normalizes) of one text (shape (dim,)) or a list
    (shape (n, dim)). `model`: an embedding run folder, a sentence-transformers folder, a catalog encoder
    (minilm-l6) or an encoder folder. `dimensions` keeps the first values, for Matryoshka-trained models."""
    single = isinstance(texts, str)
    items = [texts] if single else list(texts)
    bad = next((i for i, t in enumerate(items) if not isinstance(t, str)), None)
    if bad is not None:
        raise TunesmithError(f"texts[{bad}] is {type(items[bad]).__name__}, not a string",
                             "Pass a string or a list of strings.")
    encoder = _encoder(model)
    if dimensions is not None:
        allowed = encoder.matryoshka_dims or (encoder.dimension,)
        if dimensions not in allowed and not (encoder.matryoshka_dims and 1 <= dimensions <= encoder.dimension):
            raise TunesmithError(f"dimensions={dimensions} but {model} was not trained for shorter embeddings "
                                 f"(its size is {encoder.dimension})",
                                 "Leave dimensions out, or train with embedding.matryoshka_dims.")
    vectors = encoder.encode(items, batch_size, dimensions)
    return vectors[0] if single else vectors


def held_out_queries(run, limit: int) -> list[str]:
    """Texts to check an export on: the run's held-out queries and documents, else fixed examples."""
    texts: list[str] = []
    try:
        from tunesmith.data import load_prepared

        dataset = load_prepared(run.folder.dataset_dir)
        for name in ("test", "validation"):
            for record in dataset.split(name):
                texts += [record["query"], record["positive"]]
    except (TunesmithError, OSError, TypeError, KeyError):
        pass
    texts = list(dict.fromkeys(texts))[:limit]
    return texts or ["How long do I have to return a bike?", "Returns are accepted within 45 days.",
                     "where is my parcel", "Password reset"]


def export_embedding(run, format: str, folder: Path, settings) -> dict:
    """The run as a sentence-transformers folder (with onnx/model.onnx for format onnx), checked to embed like
    the run (cosine ≥ PARITY_COSINE on held-out texts); the parity report `export` writes."""
    from tunesmith.embeddings.export import write_sentence_transformers
    from tunesmith.embeddings.load import base_encoder, encoder_for_run

    if format not in ("hf", "onnx"):
        raise TunesmithError(f"--format {format} is for generative models and classifiers; this run is an "
                             "embedding model", "Export it with --format hf (a sentence-transformers folder) or "
                             "--format onnx (the same folder with onnx/model.onnx).")
    encoder = encoder_for_run(run)
    method = run.info.method
    if hasattr(encoder.model, "merge_and_unload"):
        encoder.model = encoder.model.merge_and_unload()
    texts = held_out_queries(run, settings.parity_prompts)
    reference = encoder.encode(texts)
    write_sentence_transformers(encoder, folder)
    reloaded, label = base_encoder(folder), "tunesmith SentenceEncoder reloaded from the sentence-transformers folder"
    if format == "onnx":
        from tunesmith.embeddings.onnx_runtime import ONNX_FILE, write_onnx

        reloaded = write_onnx(reloaded, folder)
        label = f"ONNX Runtime running {ONNX_FILE} (the bytes written), pooled as the folder says"
    candidate = reloaded.encode(texts)
    cosines = np.sum(reference * candidate, axis=1) / (
        np.linalg.norm(reference, axis=1) * np.linalg.norm(candidate, axis=1)).clip(min=1e-12)
    matched = float(np.mean(cosines >= PARITY_COSINE)) if len(texts) else 1.0
    first = next((i for i, c in enumerate(cosines) if c < PARITY_COSINE), None)
    return {"gate": "embedding_cosine", "method": method, "texts": len(texts),
            "min_cosine": float(cosines.min()) if len(texts) else 1.0, "exact_match_rate": matched,
            "prompt_token_match_rate": 1.0, "threshold": settings.parity_threshold,
            "passed": matched >= settings.parity_threshold,
            "first_divergence": {"prompt_index": first} if first is not None else None,
            "candidate": label}
