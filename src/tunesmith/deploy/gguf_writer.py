"""Write a Llama-architecture model (SmolLM2, Llama, and the tiny test models) as a GGUF file.

Uses the `gguf` package's writer, tensor-name map and quantizers, and follows llama.cpp's
convert_hf_to_gguf for Llama: q/k rows are permuted to GGML's rotary layout, norms stay F32, and the
byte-level BPE tokenizer (tokens, types, merges, special ids) and chat template travel in the metadata.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from tunesmith.errors import TunesmithError

GGUF_TYPES = ("f32", "f16", "q8_0", "q5_0", "q4_0")
QUANTIZED_TYPES = ("q8_0", "q5_0", "q4_0")
# With 4-5 bit matrices, llama.cpp's quantizer keeps the token embedding (= the output layer when tied)
# at higher precision; its usual Q6_K needs 256-wide rows (SmolLM2 has 576), so it is Q8_0 here.
_EMBEDDING_TYPE = {"q5_0": "q8_0", "q4_0": "q8_0"}
INFERENCE_KEY = "tunesmith.inference"  # the run's inference contract, as JSON
SYSTEM_PROMPT_KEY = "tunesmith.system_prompt"


def _permute(weights: np.ndarray, n_head: int) -> np.ndarray:
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _encode(gguf, name: str, data: np.ndarray, kind: str) -> tuple[np.ndarray, object | None]:
    """Norms and odd shapes stay F32 / F16 (as llama.cpp does); matrices take the requested type."""
    if data.ndim < 2 or kind == "f32":
        return data.astype(np.float32), None
    if name in ("token_embd.weight", "output.weight"):
        kind = _EMBEDDING_TYPE.get(kind, kind)
    if kind == "f16":
        return data.astype(np.float16), None
    qtype = getattr(gguf.GGMLQuantizationType, kind.upper())
    if data.shape[-1] % gguf.GGML_QUANT_SIZES[qtype][0]:
        return data.astype(np.float16), None
    return gguf.quants.quantize(data.astype(np.float32), qtype), qtype


def _tokenizer_metadata(writer, tokenizer, vocab_size: int, chat_template: str | None = None) -> None:
    import gguf

    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    if spec["model"]["type"] != "BPE":
        raise TunesmithError(f"GGUF export supports byte-level BPE tokenizers; this one is {spec['model']['type']}.",
                             "Export with --format hf and convert with llama.cpp's convert_hf_to_gguf.py.")
    special = set(tokenizer.all_special_ids)
    added = {token.content for token in tokenizer.added_tokens_decoder.values()}
    tokens, types = [], []
    for token_id in range(vocab_size):
        token = tokenizer.convert_ids_to_tokens(token_id) if token_id < len(tokenizer) else None
        if token is None:
            tokens.append(f"[PAD{token_id}]")
            types.append(gguf.TokenType.UNUSED)
        else:
            tokens.append(token)
            types.append(gguf.TokenType.CONTROL if token_id in special else
                         gguf.TokenType.USER_DEFINED if token in added else gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")
    # llama.cpp picks its pre-tokenizer regex by name; SmolLM2's vocabulary uses "smollm".
    writer.add_tokenizer_pre("smollm" if "<|im_start|>" in tokenizer.get_vocab() else "default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for setter, token_id in ((writer.add_bos_token_id, tokenizer.bos_token_id),
                             (writer.add_eos_token_id, tokenizer.eos_token_id),
                             (writer.add_unk_token_id, tokenizer.unk_token_id),
                             (writer.add_pad_token_id, tokenizer.pad_token_id)):
        if token_id is not None:
            setter(token_id)
    writer.add_add_bos_token(False)
    writer.add_add_space_prefix(False)
    template = chat_template or tokenizer.chat_template
    if template:
        writer.add_chat_template(template)


def write_gguf(model, tokenizer, path: str | Path, kind: str = "f16", name: str = "tunesmith-export",
               chat_template: str | None = None, contract=None) -> Path:
    """Write `model` (a plain, merged causal LM) and its tokenizer to `path` as GGUF. `chat_template` replaces the
    tokenizer's (an export's adds the trained system prompt); a run's inference contract is stored as metadata
    (`tunesmith.inference`, JSON, and `tunesmith.system_prompt`)."""
    import gguf

    config = model.config
    if config.model_type != "llama":
        raise TunesmithError(f"GGUF export supports Llama-architecture models; this one is '{config.model_type}'.",
                             "Export with --format hf and convert with llama.cpp's convert_hf_to_gguf.py.")
    if kind not in GGUF_TYPES:
        raise TunesmithError(f"unknown GGUF type '{kind}'", f"Choose one of: {', '.join(GGUF_TYPES)}.")
    path = Path(path)
    rope = (getattr(config, "rope_parameters", None) or {}).get("rope_theta") or getattr(config, "rope_theta", 1e4)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_freq_base(float(rope))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_rope_dimension_count(head_dim)
    if head_dim * config.num_attention_heads != config.hidden_size:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type({"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                          "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "q5_0": gguf.LlamaFileType.MOSTLY_Q5_0,
                          "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0}[kind])
    _tokenizer_metadata(writer, tokenizer, config.vocab_size, chat_template)
    if contract is not None:
        writer.add_string(INFERENCE_KEY, json.dumps(contract.to_json(), ensure_ascii=False))
        if contract.system_prompt is not None:
            writer.add_string(SYSTEM_PROMPT_KEY, contract.system_prompt)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    for hf_name, tensor in model.state_dict().items():
        if hf_name == "lm_head.weight" and config.tie_word_embeddings:
            continue
        data = tensor.detach().to(torch.float32).cpu().numpy()
        if hf_name.endswith("q_proj.weight"):
            data = _permute(data, config.num_attention_heads)
        elif hf_name.endswith("k_proj.weight"):
            data = _permute(data, config.num_key_value_heads)
        target = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise TunesmithError(f"no GGUF name for tensor {hf_name}", "This architecture is not supported.")
        encoded, qtype = _encode(gguf, target, data, kind)
        writer.add_tensor(target, encoded, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
