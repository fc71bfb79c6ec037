"""The OpenAI-compatible HTTP server."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunesmith.config.base import Section


class ExportConfig(Section):
    gguf_type: Literal["f32", "f16", "q8_0", "q5_0", "q4_0"] = Field(
        "f32", description="GGUF weight type: f32 (answers match the trained model exactly), f16 (half the size), "
        "q8_0 (quarter size, 8-bit), q5_0 / q4_0 (5 / 4-bit; on SmolLM2-135M they miss the quantized bar: 83% / "
        "66% next-token agreement).")
    parity_prompts: int = Field(16, ge=1, le=500, description="Held-out prompts replayed by the parity check.")
    parity_max_new_tokens: int = Field(32, ge=1, le=1024, description="Greedy tokens compared per prompt.")
    parity_threshold: float = Field(0.9, ge=0, le=1, description="Least share of prompts whose greedy answer "
                                    "must match the training-time model exactly; below it the export fails.")
    quantized_parity_threshold: float = Field(
        0.9, ge=0, le=1, description="For quantized GGUF (q8_0, q5_0, q4_0): least teacher-forced next-token "
        "agreement (the export's most likely next token equals the trained model's, scored over the trained "
        "model's greedy answers). Exact match is the wrong bar there: one near-tied token sends greedy decoding "
        "elsewhere. Measured on SmolLM2-135M: q8_0 95%, a q/k layout bug 22% (bench/results/export_parity.md); "
        "prompts must still render identically.")
    gguf_runtime: Literal["auto", "llama-cpp", "transformers"] = Field(
        "auto", description="What runs the GGUF in the parity check: llama-cpp-python when installed (auto), "
        "or transformers' GGUF loader.")


class ServeConfig(Section):
    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port.")
    api_keys: list[str] = Field(default_factory=list, description="Accepted API keys; empty means no auth.")
    api_key_hashes: list[str] = Field(default_factory=list, description="Accepted API keys as SHA-256 hex "
                                      "digests (`tunesmith serve --hash-key KEY`), so the file holds no secret.")
    max_batch_size: int = Field(8, ge=1, description="Requests decoded together.")
    batch_window_ms: int = Field(10, ge=0, description="How long to wait for more requests to batch.")
    max_queue: int = Field(64, ge=1, description="Pending requests beyond this get 429.")
    max_loaded_models: int = Field(4, ge=1, description="Adapters or full models kept in memory at once "
                                   "(least recently used is unloaded).")
    default_max_tokens: int = Field(256, ge=1, description="Answer length when a request gives no max_tokens.")
    max_tokens_limit: int = Field(2048, ge=1, description="Largest max_tokens a request may ask for.")
    max_body_bytes: int = Field(1_000_000, ge=1024, description="Larger request bodies get 413.")
    rate_limit_per_minute: int = Field(0, ge=0, description="Requests per minute per API key (0 = unlimited).")
    rate_limit_burst: int = Field(10, ge=1, description="Requests a key may send at once before the rate applies.")
    backend: Literal["torch", "llamacpp"] = Field("torch", description="torch: batched PyTorch engine with "
                                                  "adapters; llamacpp: a GGUF export through llama-cpp-python.")
    dtype: Literal["float32", "bfloat16", "float16"] = Field("float32", description="Weights dtype when serving.")
    linear_kernel: Literal["onednn", "torch"] = Field(
        "onednn", description="CPU GEMM for float32 models without adapters: onednn (torch's mkldnn linear with "
        "packed weights; ~30% faster decoding at batch 8 on SmolLM2-135M, same greedy answers on the bench "
        "prompts) or torch (the default nn.Linear). Bases that serve adapters always keep nn.Linear.")
    embedding_runtime: Literal["auto", "onnxruntime", "torch"] = Field(
        "auto", description="What runs /v1/embeddings' encoder: onnxruntime (the same graph and weights, exported "
        "in memory at load; ~2.6x faster than PyTorch on one short text with all-MiniLM-L6, vectors within 2e-7, "
        "checked against PyTorch before serving), torch, or auto (onnxruntime when installed and in agreement).")
    threads: int | None = Field(None, ge=1, description="torch threads for decoding; empty means all cores. Use 1 "
                                "on a machine shared with other heavy work: more threads than free cores make "
                                "every matmul wait for a descheduled thread.")
    export: ExportConfig = Field(default_factory=ExportConfig, description="`tunesmith export` and its parity check.")
