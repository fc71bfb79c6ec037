"""`POST /v1/embeddings`, as OpenAI's API: `input` a string or a list of strings, `encoding_format` float or
base64 (little-endian float32, what the `openai` client asks for by default), `dimensions` for models trained
with Matryoshka sizes, and usage counts. Requests from all clients are batched together
(serve/embedding_batcher.py). Mounted on the server app, so the key guard and rate limit cover it.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import orjson
from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from pydantic import Field

from tunesmith.config.serve import ServeConfig
from tunesmith.embeddings.encoder import SentenceEncoder
from tunesmith.serve.embedding_batcher import EmbeddingBatcher, InputTooLong
from tunesmith.serve.engine import QueueFullError
from tunesmith.serve.errors import APIError
from tunesmith.serve.schemas import RequestBody

MAX_INPUTS = 2048  # OpenAI's limit on inputs per request


class EmbeddingRequest(RequestBody):
    model: str = Field(min_length=1)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | None = None


def _texts(body: EmbeddingRequest) -> list[str]:
    items = [body.input] if isinstance(body.input, str) else list(body.input)
    if not items:
        raise APIError(400, "input must not be empty.", param="input", code="invalid_value")
    if not all(isinstance(item, str) for item in items):
        raise APIError(400, "input as token ids is not supported by this server; send the text.",
                       param="input", code="invalid_value")
    if len(items) > MAX_INPUTS:
        raise APIError(400, f"input has {len(items)} items; at most {MAX_INPUTS} per request.", param="input",
                       code="invalid_value")
    empty = next((i for i, text in enumerate(items) if not text), None)
    if empty is not None:
        raise APIError(400, f"input[{empty}] is an empty string.", param="input", code="invalid_value")
    return items


def _encode(vector: np.ndarray, fmt: str):
    if fmt == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return np.ascontiguousarray(vector, dtype=np.float32)  # orjson writes it as float32 numbers, in C


def _json(payload: dict) -> Response:
    """The body rendered by orjson: FastAPI's own encoder walks every float in Python (~1 ms for one vector of
    384, more than the JSON itself), and float32 numbers print shorter than their float64 widening."""
    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")


def _truncate(vectors: np.ndarray, dimensions: int | None, normalize: bool) -> np.ndarray:
    if dimensions is None or dimensions == vectors.shape[1]:
        return vectors
    cut = vectors[:, :dimensions]
    return cut / np.linalg.norm(cut, axis=1, keepdims=True).clip(min=1e-12) if normalize else cut


def create_embeddings_router(batcher: EmbeddingBatcher, models: Mapping[str, Callable[[], dict]],
                             resolve: Callable[[str], str] = str) -> APIRouter:
    """`models`: model id → a cheap description ({"dimension", "matryoshka_dims", "normalize"}), known
    without loading weights. `resolve` maps the id a request names to the one its vectors come from (the
    production alias to the version in production now); the answer keeps the requested id."""
    router = APIRouter()

    @router.post("/v1/embeddings")
    async def embeddings(body: EmbeddingRequest):
        served = resolve(body.model)
        describe = models.get(served)
        if describe is None:
            raise APIError(404, f"The model '{body.model}' does not exist or is not an embedding model. "
                           f"Embedding models here: {', '.join(models) or 'none'}.", code="model_not_found",
                           param="model")
        texts = _texts(body)
        info = describe()
        dimension, trained = info["dimension"], info["matryoshka_dims"]
        if body.dimensions is not None and body.dimensions != dimension:
            if not trained:
                raise APIError(400, f"'{body.model}' was not trained with Matryoshka sizes, so it only gives "
                               f"{dimension} dimensions.", param="dimensions", code="invalid_value")
            if body.dimensions > dimension:
                raise APIError(400, f"dimensions is {body.dimensions}; '{body.model}' gives at most {dimension} "
                               f"(trained sizes: {', '.join(map(str, trained))}).", param="dimensions",
                               code="invalid_value")
        try:
            future = batcher.submit(served, texts)
        except QueueFullError as err:
            raise APIError(429, str(err), "server_overloaded", "queue_full", headers={"Retry-After": "1"}) from None
        try:
            result = await asyncio.wrap_future(future)
        except InputTooLong as err:
            raise APIError(400, str(err), param="input", code="context_length_exceeded") from None
        vectors = _truncate(result.vectors, body.dimensions, info["normalize"])
        return _json({"object": "list", "model": body.model,
                      "data": [{"object": "embedding", "index": i, "embedding": _encode(v, body.encoding_format)}
                               for i, v in enumerate(vectors)],
                      "usage": {"prompt_tokens": result.tokens, "total_tokens": result.tokens}})

    return router


def describe_source(source: str | Path) -> dict:
    """Dimension, Matryoshka sizes and normalization of an embedding source, read from its JSON files."""
    import json

    from tunesmith.embeddings.encoder import folder_normalizes
    from tunesmith.embeddings.export import read_embedding_settings
    from tunesmith.embeddings.load import is_embedding_run

    path = Path(source)
    if is_embedding_run(path):
        from tunesmith.runs import RunFolder

        run = RunFolder(path)
        config = run.config()
        folder = Path(run.require_finished("serve").base_model_path or config.model.name)
        hidden = json.loads((folder / "config.json").read_text(encoding="utf-8"))["hidden_size"]
        return {"dimension": hidden, "matryoshka_dims": list(config.embedding.matryoshka_dims),
                "normalize": config.embedding.normalize}
    from tunesmith.models.catalog import resolve

    folder = resolve(str(source)).path
    hidden = json.loads((folder / "config.json").read_text(encoding="utf-8"))["hidden_size"]
    normalizes = folder_normalizes(folder)
    return {"dimension": hidden, "matryoshka_dims": read_embedding_settings(folder).get("matryoshka_dims", []),
            "normalize": True if normalizes is None else normalizes}


class _Descriptions(Mapping):
    """Model id → its description, read from the source's JSON files once, on first use."""

    def __init__(self, sources: Mapping[str, str | Path]):
        self.sources, self._read = sources, {}

    def __getitem__(self, model_id: str) -> Callable[[], dict]:
        source = self.sources[model_id]
        return lambda: self._read.get(source) or self._read.setdefault(source, describe_source(source))

    def __iter__(self):
        return iter(self.sources)

    def __len__(self) -> int:
        return len(self.sources)


def attach_embeddings(app: FastAPI, sources: Mapping[str, str | Path], *, settings: ServeConfig | None = None,
                      max_texts: int = 64, resolve: Callable[[str], str] = str,
                      load: Callable[[str | Path], SentenceEncoder] | None = None) -> EmbeddingBatcher:
    """Mount `/v1/embeddings` for `sources` (model id → run folder, export folder or catalog encoder; any
    Mapping, so one may answer for ids that change, as production's does with `resolve`). The batching window,
    queue bound, models kept loaded and the encoder's runtime are the server's `settings` (serve.batch_window_ms,
    max_queue, max_loaded_models, embedding_runtime)."""
    from tunesmith.embeddings.load import load_embedder
    from tunesmith.embeddings.onnx_runtime import require_runtime, serving_encoder

    settings = settings or ServeConfig()
    require_runtime(settings.embedding_runtime)
    loader = load or load_embedder

    def encoder(model_id: str) -> SentenceEncoder:
        return serving_encoder(loader(sources[model_id]), settings.embedding_runtime, settings.threads)

    batcher = EmbeddingBatcher(encoder, max_texts, settings.batch_window_ms, settings.max_queue,
                               settings.max_loaded_models)
    app.include_router(create_embeddings_router(batcher, _Descriptions(sources), resolve))
    listed = getattr(app.state, "mounted_models", None)  # the server app's /v1/models lists them
    if listed is not None:
        listed.update(dict.fromkeys(sources, "embedding"))
    app.state.embeddings = batcher
    return batcher
