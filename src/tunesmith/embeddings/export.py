"""Write an embedding model as a sentence-transformers folder: `SentenceTransformer(path)` loads it.

The folder is the encoder's own Hugging Face files (config.json, model.safetensors, tokenizer) plus the
module list sentence-transformers reads: modules.json (Transformer → Pooling → Normalize),
1_Pooling/config.json and sentence_bert_config.json. Nothing here imports sentence-transformers.
"""

from __future__ import annotations

import json
from pathlib import Path

from tunesmith.embeddings.encoder import SentenceEncoder

EMBEDDING_FILE = "tunesmith-embedding.json"  # pooling, normalize, Matryoshka sizes: what tunesmith reads back


def _write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def embedding_settings(encoder: SentenceEncoder) -> dict:
    return {"pooling": encoder.pooling, "normalize": encoder.normalize, "max_length": encoder.max_length,
            "dimension": encoder.dimension, "matryoshka_dims": list(encoder.matryoshka_dims)}


def write_sentence_transformers(encoder: SentenceEncoder, folder: str | Path) -> Path:
    """Save `encoder` (a plain, merged Hugging Face encoder inside) to `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    encoder.model.save_pretrained(folder, safe_serialization=True)
    encoder.tokenizer.save_pretrained(folder)
    dimension = encoder.dimension
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if encoder.normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        (folder / "2_Normalize").mkdir(exist_ok=True)
    _write(folder / "modules.json", modules)
    _write(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": dimension, "pooling_mode_cls_token": encoder.pooling == "cls",
        "pooling_mode_mean_tokens": encoder.pooling == "mean", "pooling_mode_max_tokens": encoder.pooling == "max",
        "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False, "include_prompt": True})
    _write(folder / "sentence_bert_config.json", {"max_seq_length": encoder.max_length, "do_lower_case": False})
    _write(folder / "config_sentence_transformers.json", {
        "model_type": "SentenceTransformer", "prompts": {}, "default_prompt_name": None,
        "similarity_fn_name": "cosine"})
    _write(folder / EMBEDDING_FILE, embedding_settings(encoder))
    return folder


def read_embedding_settings(folder: str | Path) -> dict:
    path = Path(folder) / EMBEDDING_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
