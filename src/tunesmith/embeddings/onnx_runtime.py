"""ONNX Runtime for embeddings: the same encoder's graph, run by a CPU runtime made for inference.

PyTorch's eager forward of a small encoder on one short text is mostly per-operator overhead: all-MiniLM-L6
took ~12 ms for one FAQ query on this machine's 2 cores, ONNX Runtime ~4.6 ms for the same graph and weights
(and ~4 against ~6 ms per text in batches of 8), vectors within 2e-7. The server therefore encodes through ONNX
Runtime when it is installed (`serve.embedding_runtime`).

The graph is exported from the loaded model in memory, at load, and handed to the runtime as bytes: nothing but
safetensors and JSON is read from disk. Before it serves, the runtime encodes a few probe texts (padded
together) and must agree with PyTorch to `TOLERANCE`; otherwise "auto" keeps PyTorch and says why, and an
explicit "onnxruntime" fails. The graph ends at the token vectors (`last_hidden_state`, the layout Hugging
Face's ONNX exports use); pooling and normalization stay in `SentenceEncoder`, shared with every other path.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from tunesmith.embeddings.encoder import SentenceEncoder, pool
from tunesmith.errors import TunesmithError

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "onnxruntime", "torch")
TOLERANCE = 1e-5  # largest difference allowed between the runtime's vectors and PyTorch's (observed: ~2e-7)
PROBES = ("a", "How do I reset my password?",
          "Shipping to another country takes five to ten working days, and the customs fees are paid on arrival.")
OPSET = 17
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "last_hidden_state"
ONNX_FILE = "onnx/model.onnx"


def runtime_available() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def require_runtime(runtime: str) -> None:
    """Refuse `runtime` "onnxruntime" when it is not installed (the server's assembly asks before any load)."""
    if runtime == "onnxruntime" and not runtime_available():
        raise TunesmithError("serve.embedding_runtime is onnxruntime, but onnxruntime and onnx are not installed.",
                             "pip install 'tunesmith[serve]' (or onnxruntime onnx), or set embedding_runtime: auto.")


class _TokenVectors(torch.nn.Module):
    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def export_graph(model: torch.nn.Module, target: str | Path | io.BytesIO) -> None:
    """The encoder as an ONNX graph (token ids and mask in, token vectors out; batch and length dynamic)."""
    ids = torch.ones((2, 8), dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0  # traced with padding, so a branch taken only for all-ones masks cannot be baked in
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, OUTPUT)}
    was_training = model.training
    wrapper = _TokenVectors(model).eval()  # the exporter puts back the wrapper's mode, recursively
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on Python-side shape checks, expected here
            torch.onnx.export(wrapper, (ids, mask), target, input_names=list(INPUTS), output_names=[OUTPUT],
                              dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    finally:
        model.train(was_training)


@dataclass
class OnnxEncoder(SentenceEncoder):
    """A `SentenceEncoder` whose forward runs in ONNX Runtime; `model` stays for its config and the check."""

    session: object = field(default=None, repr=False)

    def forward_chunk(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        feed = {"input_ids": tokens.numpy().astype(np.int64), "attention_mask": mask.numpy().astype(np.int64)}
        hidden = torch.from_numpy(self.session.run([OUTPUT], feed)[0])
        vectors = pool(hidden, mask, self.pooling)
        return torch.nn.functional.normalize(vectors, dim=-1) if self.normalize else vectors


def _on_runtime(encoder: SentenceEncoder, graph: bytes, threads: int | None) -> OnnxEncoder:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    # Idle runtime threads would spin waiting for work, taking the CPU the server's HTTP handling needs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    return OnnxEncoder(encoder.model, encoder.tokenizer, encoder.pooling, encoder.normalize, encoder.max_length,
                       encoder.matryoshka_dims, session=session)


def graph_bytes(model: torch.nn.Module) -> bytes:
    graph = io.BytesIO()
    export_graph(model, graph)
    return graph.getvalue()


def onnx_encoder(encoder: SentenceEncoder, threads: int | None = None) -> OnnxEncoder:
    return _on_runtime(encoder, graph_bytes(encoder.model), threads)


def write_onnx(encoder: SentenceEncoder, folder: str | Path) -> OnnxEncoder:
    """`folder`/onnx/model.onnx (where sentence-transformers' ONNX backend and Hugging Face's exports put it), and
    the encoder running exactly those bytes, for the export's parity check."""
    graph = graph_bytes(encoder.model)
    path = Path(folder) / ONNX_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(graph)
    return _on_runtime(encoder, graph, None)


def disagreement(reference: SentenceEncoder, candidate: SentenceEncoder) -> float:
    """Largest difference between the two encoders' vectors of the probe texts, encoded as one padded batch."""
    return float(np.abs(reference.encode(PROBES) - candidate.encode(PROBES)).max())


def serving_encoder(encoder: SentenceEncoder, runtime: str = "auto", threads: int | None = None) -> SentenceEncoder:
    """What the server encodes with: `encoder` through ONNX Runtime ("onnxruntime", or "auto" when installed and
    in agreement), else `encoder` itself."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown embedding runtime {runtime!r}; one of {', '.join(RUNTIMES)}")
    require_runtime(runtime)
    if runtime == "torch" or not runtime_available():
        return encoder
    try:
        candidate = onnx_encoder(encoder, threads)
        gap = disagreement(encoder, candidate)
    except Exception as err:  # an architecture the exporter cannot trace: PyTorch serves it as before
        if runtime == "onnxruntime":
            raise TunesmithError(f"this encoder could not be run by ONNX Runtime: {err}",
                                 "Set serve.embedding_runtime: torch (or auto, which falls back by itself).") from err
        log.warning("embeddings served by PyTorch: ONNX export failed (%s)", err)
        return encoder
    if gap > TOLERANCE:
        if runtime == "onnxruntime":
            raise TunesmithError(f"ONNX Runtime's vectors differ from PyTorch's by {gap:.2g} (allowed {TOLERANCE:g}).",
                                 "Set serve.embedding_runtime: torch.")
        log.warning("embeddings served by PyTorch: ONNX Runtime differs by %.2g (allowed %g)", gap, TOLERANCE)
        return encoder
    return candidate
