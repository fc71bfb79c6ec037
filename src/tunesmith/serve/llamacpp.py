"""The llama.cpp backend (optional extra `llamacpp`): serve GGUF exports through llama-cpp-python.

Same app, routes, keys and limits as the PyTorch engine; requests are decoded one at a time by
llama.cpp (fastest single-stream decode on CPU). The HF tokenizer saved beside the GGUF validates
and renders prompts, and the token ids go to llama.cpp unchanged.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from tunesmith.config.serve import ServeConfig
from tunesmith.errors import TunesmithError
from tunesmith.serve.batch import Failed
from tunesmith.serve.engine import Engine
from tunesmith.serve.registry import ModelRegistry, ModelSource, folder_contract


class GGUFRegistry(ModelRegistry):
    """GGUF export folders (model.gguf + tokenizer files) by id; each Llama is opened on first use."""

    def __init__(self, paths: list[str | Path], context: int = 4096, threads: int | None = None):
        sources = []
        for item in paths:
            model_id, _, path = str(item).rpartition("=") if "=" in str(item) else ("", "", str(item))
            folder = Path(path)
            gguf = folder if folder.suffix == ".gguf" else folder / "model.gguf"
            if not gguf.exists():
                raise TunesmithError(f"no GGUF file at {gguf}.", "Export one: tunesmith export RUN --format gguf.")
            if not (gguf.parent / "tokenizer_config.json").exists():
                raise TunesmithError(f"{gguf.parent} has no tokenizer files beside the GGUF.",
                                     "Re-export with `tunesmith export RUN --format gguf` (it writes them).")
            sources.append(ModelSource(model_id or gguf.parent.name, "gguf", gguf, None, gguf.parent, "chat",
                                       folder_contract(gguf.parent)))
        super().__init__(sources, max_loaded=len(sources))
        self.context = context
        self.threads = threads
        self._llamas: dict[str, object] = {}
        self._eos: dict[str, frozenset[int]] = {}

    def context_length(self, model_id: str) -> int:
        return self.context

    def add(self, source: ModelSource) -> None:
        """Fine-tuned runs (from the fine-tuning API) are PyTorch folders, which llama.cpp cannot run."""
        raise TunesmithError(f"the llamacpp backend serves GGUF exports only, not the run {source.model_id}.",
                             "Download it as GGUF (GET /v1/fine_tuning/jobs/JOB_ID/export?format=gguf) and serve "
                             "that, or use serve.backend: torch.")

    def eos_ids(self, model_id: str) -> frozenset[int]:
        """End-of-turn ids: the tokenizer's and generation config's, plus the GGUF's own EOS."""
        if model_id not in self._eos:
            from tunesmith.models.loading import end_of_turn_ids

            config = self.source(model_id).tokenizer_path / "generation_config.json"
            generation = json.loads(config.read_text(encoding="utf-8")) if config.exists() else {}
            eos = end_of_turn_ids(self.tokenizer(model_id), generation)
            self._eos[model_id] = frozenset(eos | {self.acquire(model_id).token_eos()})
        return self._eos[model_id]

    def acquire(self, model_id: str):
        from tunesmith.deploy.gguf_runtime import open_llama

        if model_id not in self._llamas:
            self._llamas[model_id] = open_llama(self.source(model_id).path, context=self.context,
                                                  threads=self.threads)
        return self._llamas[model_id]


class LlamaCppEngine(Engine):
    """The engine's queue and limits, with llama.cpp decoding one request at a time."""

    supports_logprobs = False  # Llama.generate yields token ids only; a request asking for them gets a 400
    supports_logits_processors = False  # no logit_bias, penalties or grammars (response_format, tool calls): 400s

    def _decode(self, model_id: str) -> None:
        llm = self.registry.acquire(model_id)
        while not self._stopped:
            with self._cond:
                taken = self._take(model_id, 1)
            if not taken:
                return
            seq = taken[0]
            self.stats.requests += 1
            self.stats.prompt_tokens += len(seq.prompt_ids)
            self.stats.active = 1
            try:
                self._run(llm, seq)
            except Exception as err:
                seq.sink(Failed(err))
            finally:
                self.stats.active = 0
            self._run_jobs()

    def _run(self, llm, seq) -> None:
        """Drive llama.cpp token by token: exact token counts, our stop-string and streaming rules."""
        params = seq.params
        eos = self.registry.eos_ids(seq.model_id)
        seq.start(self.registry.tokenizer(seq.model_id))
        llm.set_seed(params.seed % 2**32 if params.seed is not None else random.randrange(2**32))  # uint32 there
        greedy = params.temperature <= 0
        tokens = llm.generate(seq.prompt_ids, top_k=1 if greedy else 0, top_p=params.top_p, min_p=0.0,
                              temp=0.0 if greedy else params.temperature, repeat_penalty=1.0, reset=True)
        reason, generated, room = "length", 0, self.registry.context_length(seq.model_id) - len(seq.prompt_ids)
        try:
            for token in tokens:
                generated += 1
                if token in eos:
                    seq.send(final=True)
                    reason = "stop"
                    break
                seq.text.push(token)
                last = len(seq.ids) >= min(params.max_tokens, room)
                seq.send(final=last)
                if seq.text.stopped:
                    reason = "stop"
                    break
                if last or seq.cancelled:
                    break
        finally:
            tokens.close()
        self.stats.completion_tokens += generated
        if not seq.cancelled:
            seq.finish(reason)


def llamacpp_backend(paths: list[str | Path], config: ServeConfig):
    """(registry, engine) of the llamacpp backend, for `tunesmith.serve.server.build_server`."""
    from tunesmith.deploy.gguf_runtime import llama_cpp_available

    if not llama_cpp_available():
        raise TunesmithError("the llamacpp backend needs llama-cpp-python.",
                             "pip install 'tunesmith[llamacpp]' (compiles ~5 min), or use serve.backend: torch.")
    registry = GGUFRegistry(paths, threads=config.threads)
    return registry, LlamaCppEngine(registry, 1, 0, config.max_queue)


def create_llamacpp_app(paths: list[str | Path], config: ServeConfig | None = None):
    """The server for GGUF exports: `build_server` with `serve.backend: llamacpp`."""
    from tunesmith.serve.server import build_server

    config = (config or ServeConfig()).model_copy(update={"backend": "llamacpp"})
    return build_server(paths, settings=config).app
