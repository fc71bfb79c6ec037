"""Any embedding model back as a `SentenceEncoder`: an embedding run, a sentence-transformers folder, a
catalog encoder (minilm-l6) or a plain Hugging Face encoder folder (mean pooling, normalized)."""

from __future__ import annotations

import json
from pathlib import Path

from tunesmith.embeddings.encoder import SentenceEncoder, folder_normalizes, resolve_pooling
from tunesmith.embeddings.export import read_embedding_settings
from tunesmith.errors import TunesmithError

DEFAULT_MAX_LENGTH = 256  # sentence-transformers' own default for MiniLM-sized encoders


def folder_max_length(folder: str | Path, limit: int | None = None) -> int:
    """The longest input the folder's model reads: sentence_bert_config's max_seq_length, else the position
    table, capped by `limit` (model.max_length)."""
    folder = Path(folder)
    values = [limit] if limit else []
    st_config = folder / "sentence_bert_config.json"
    if st_config.exists():
        values.append(json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length"))
    config = folder / "config.json"
    if config.exists():
        values.append(json.loads(config.read_text(encoding="utf-8")).get("max_position_embeddings"))
    values = [int(v) for v in values if v]
    return min(values) if values else DEFAULT_MAX_LENGTH


def is_embedding_run(path: str | Path) -> bool:
    from tunesmith.runs import RunFolder

    folder = RunFolder(Path(path))
    return folder.is_run() and folder.info().task == "embedding"


def encoder_for_run(loaded) -> SentenceEncoder:
    """A `tunesmith.train.LoadedRun` of an embedding run as an encoder, with the settings it trained with."""
    config = loaded.config
    base = Path(loaded.info.base_model_path or loaded.config.model.name)
    settings = config.embedding
    return SentenceEncoder(loaded.model.eval(), loaded.tokenizer, resolve_pooling(settings.pooling, base),
                           settings.normalize, folder_max_length(base, config.model.max_length),
                           tuple(settings.matryoshka_dims))


def base_encoder(name: str | Path, dtype: str = "float32", trust_remote_code: bool = False,
                 max_length: int | None = None, pooling: str = "auto", normalize: bool | None = None,
                 ) -> SentenceEncoder:
    """A catalog encoder or an encoder folder, pooled as its sentence-transformers config says."""
    from transformers import AutoModel

    from tunesmith.models.catalog import resolve
    from tunesmith.models.loading import DTYPES, load_tokenizer

    resolved = resolve(str(name), trust_remote_code=trust_remote_code)
    if resolved.kind == "causal-lm":
        raise TunesmithError(f"'{name}' is a causal language model, not an encoder.",
                             "Use an encoder such as minilm-l6 for embeddings.")
    folder = resolved.path
    model = AutoModel.from_pretrained(folder, dtype=DTYPES[dtype], use_safetensors=True,
                                      trust_remote_code=trust_remote_code).eval()
    normalizes = folder_normalizes(folder)
    saved = read_embedding_settings(folder)
    return SentenceEncoder(model, load_tokenizer(resolved, trust_remote_code), resolve_pooling(pooling, folder),
                           normalize if normalize is not None else (normalizes if normalizes is not None else True),
                           folder_max_length(folder, max_length), tuple(saved.get("matryoshka_dims", ())))


def split_embedding_sources(specs: list[str]) -> tuple[list[str], dict[str, str]]:
    """Model specs (PATH or ID=PATH) → (the others, {model id: path} of the embedding runs among them), so the
    server offers embedding runs on /v1/embeddings instead of loading them as language models."""
    others, embedding = [], {}
    for spec in specs:
        model_id, _, path = spec.partition("=") if "=" in spec else ("", "", spec)
        if Path(path).is_dir() and is_embedding_run(path):
            embedding[model_id or Path(path).name] = path
        else:
            others.append(spec)
    return others, embedding


def load_embedder(source: str | Path, dtype: str = "float32") -> SentenceEncoder:
    """Whatever `source` is (embedding run, sentence-transformers export, catalog name, encoder folder)."""
    if is_embedding_run(source):
        from tunesmith.train import load_run

        return encoder_for_run(load_run(source))
    return base_encoder(source, dtype)
