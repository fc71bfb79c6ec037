"""Which models the server offers, and loading them lazily: many adapters share one base model.

A source is a catalog name, a Hugging Face folder, a run folder (adapter/ or model/) or a bare PEFT
adapter folder. Adapter runs on the same base are loaded into one PeftModel and selected per batch;
at most `max_loaded` adapters or full models stay in memory (least recently used is evicted).
Each source carries its inference contract (`tunesmith.runs.InferenceContract`): a run's, or the one an
export wrote beside its weights; a plain model has none, and is prompted exactly as the request says.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.errors import TunesmithError
from tunesmith.runs import CONTRACT_FILE, InferenceContract, RunFolder, read_json


class UnknownModelError(TunesmithError):
    """A request named a model this server does not offer."""


@dataclass(frozen=True)
class ModelSource:
    model_id: str
    kind: str  # "base", "adapter", "full" or "classifier"
    path: Path  # model folder, adapter folder or run folder
    base: str | None = None  # resolved base folder for adapters
    tokenizer_path: Path | None = None
    task: str = "chat"
    contract: InferenceContract | None = None  # how it was trained to be prompted (None: as the request says)


@dataclass
class LoadedModel:
    model_id: str
    model: object
    tokenizer: object
    kind: str
    eos_ids: frozenset[int] = frozenset()
    pad_id: int = 0
    context_length: int = 2048
    labels: list[str] = field(default_factory=list)
    adapter: str | None = None
    shared: object | None = None  # the PeftModel holding this adapter, when there is one
    plain_generate: bool = False  # virtual-token methods: decode with model.generate, not the batch loop
    prefix: object | None = None  # serve.prefix.PrefixEntry: the last prompt's KV, reused by the next prompts

    @contextlib.contextmanager
    def activate(self):
        if self.shared is None:
            yield
        elif self.adapter is None:
            with self.shared.disable_adapter():
                yield
        else:
            self.shared.set_adapter(self.adapter)
            yield


def _shares_base(method: str | None) -> bool:
    """Runs whose adapters sit side by side in one PeftModel on the base (a qlora run trained on a 4-bit base;
    its LoRA adapter is served on the full-precision base like any other)."""
    from tunesmith.methods import Family, discover

    known = discover().get(method or "")
    return known is not None and known.family is Family.SHARED_BASE


def _describe_run(folder: RunFolder, name: str) -> ModelSource:
    from tunesmith.models.catalog import resolve

    info = folder.require_finished("serve")
    tokenizer = folder.tokenizer_dir if folder.tokenizer_dir.is_dir() else None
    task = info.task or "chat"
    contract = folder.inference_contract()
    if task == "classification":
        return ModelSource(name, "classifier", folder.path, None, tokenizer, task, contract)
    adapter = folder.artifact_dir
    if _shares_base(info.method) and adapter is not None and (adapter / "adapter_config.json").exists():
        base = resolve(str(info.base_model_path or info.base_model)).path
        return ModelSource(name, "adapter", folder.path, str(base), tokenizer, task, contract)
    return ModelSource(name, "full", folder.path, None, tokenizer, task, contract)


def folder_contract(folder: Path) -> InferenceContract | None:
    """The contract an export wrote beside its weights (None for a folder tunesmith did not export)."""
    path = Path(folder) / CONTRACT_FILE
    return InferenceContract.from_json(read_json(path)) if path.exists() else None


def describe(source: str | Path, model_id: str | None = None) -> ModelSource:
    """Work out what a source is (run, adapter, model folder, catalog name) without loading weights."""
    from tunesmith.models.catalog import resolve

    path = Path(source).expanduser()
    name = model_id or (path.name if path.is_dir() else str(source))
    folder = RunFolder(path)
    if folder.is_run():
        return _describe_run(folder, name)
    if (path / "adapter_config.json").exists():
        base_name = read_json(path / "adapter_config.json").get("base_model_name_or_path")
        if not base_name:
            raise TunesmithError(f"{path}: cannot tell which base model the adapter belongs to.",
                                 "Set base_model_name_or_path in adapter_config.json.")
        tokenizer = path if (path / "tokenizer_config.json").exists() else None
        return ModelSource(name, "adapter", path, str(resolve(str(base_name)).path), tokenizer, "chat",
                           folder_contract(path))
    resolved = resolve(str(source))
    config = read_json(resolved.path / "config.json")
    contract = folder_contract(resolved.path)
    if any("SequenceClassification" in a for a in config.get("architectures") or []):
        return ModelSource(name, "classifier", resolved.path, None, None, "classification", contract)
    return ModelSource(name, "base", resolved.path, None, None, "chat", contract)


def _adapter_folder(path: Path) -> Path:
    """A run's adapter/ folder, or `path` itself for a bare adapter folder."""
    folder = RunFolder(path)
    return (folder.artifact_dir or path) if folder.is_run() else path


def _plain_lora(path: Path) -> bool:
    """A LoRA adapter without DoRA: the kind PEFT can mix with others in one batch (`adapter_names`)."""
    config = read_json(_adapter_folder(path) / "adapter_config.json")
    return config.get("peft_type") == "LORA" and not config.get("use_dora", False)


class ModelRegistry:
    """Model ids → sources; loads on first use. Call `acquire` from one thread (the engine's)."""

    def __init__(self, sources: list[ModelSource], max_loaded: int = 4, dtype: str = "float32",
                 linear_kernel: str = "torch", allow_empty: bool = False):
        """allow_empty: a server of embedding runs only (/v1/embeddings) has no generative model."""
        if not sources and not allow_empty:
            raise TunesmithError("no models to serve.", "Pass a run folder, a model folder or a catalog name.")
        self.sources = {s.model_id: s for s in sources}
        if len(self.sources) < len(sources):
            ids = [s.model_id for s in sources]
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise TunesmithError(f"two models would share the id {', '.join(twice)}.",
                                 "Name them explicitly as ID=PATH.")
        self.max_loaded = max_loaded
        self.dtype = dtype
        self.linear_kernel = linear_kernel  # "onednn": serve.kernels.use_onednn_linear on adapter-free models
        self._bases: dict[str, object] = {}  # base folder → model (a PeftModel once it holds adapters)
        self._loaded: OrderedDict[str, LoadedModel] = OrderedDict()
        self._base_loaded: dict[str, LoadedModel] = {}
        self._groups: dict[ModelSource, str] = {}
        self._tokenizers: dict[str, object] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_paths(cls, paths: list[str | Path], max_loaded: int = 4, dtype: str = "float32",
                   linear_kernel: str = "torch") -> ModelRegistry:
        sources = [describe(*reversed(str(p).split("=", 1))) if "=" in str(p) else describe(p) for p in paths]
        # Adapters are useless without their base, so the base is always offered too.
        known = {str(Path(s.path).resolve()) for s in sources if s.kind == "base"}
        for base in {s.base for s in sources if s.kind == "adapter" and s.base}:
            if str(Path(base).resolve()) not in known:
                sources.append(describe(base))
                known.add(str(Path(base).resolve()))
        return cls(sources, max_loaded, dtype, linear_kernel)

    def source(self, model_id: str) -> ModelSource:
        source = self.sources.get(model_id)
        if source is None:
            raise UnknownModelError(f"The model '{model_id}' does not exist.",
                                    f"Available: {', '.join(self.sources)}.")
        return source

    def tokenizer(self, model_id: str):
        """The tokenizer for a model id (cheap; safe from any thread)."""
        from transformers import AutoTokenizer

        source = self.source(model_id)
        folder = source.tokenizer_path or (Path(source.base) if source.base else self._model_folder(source.path))
        with self._lock:
            if str(folder) not in self._tokenizers:
                tokenizer = AutoTokenizer.from_pretrained(folder)
                if tokenizer.pad_token is None:
                    tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
                self._tokenizers[str(folder)] = tokenizer
            return self._tokenizers[str(folder)]

    def batch_group(self, model_id: str) -> str:
        """Requests of one group may share a batch: plain LoRA adapters on one base, with that base."""
        source = self.source(model_id)
        if source not in self._groups:  # asked for every waiting request at every decode step: no disk each time
            group = model_id
            if source.kind == "adapter" and source.base and _plain_lora(source.path):
                group = f"lora:{Path(source.base).resolve()}"
            elif source.kind == "base" and any(s.kind == "adapter" and s.base and _plain_lora(s.path)
                                               and Path(s.base).resolve() == Path(source.path).resolve()
                                               for s in self.sources.values()):
                group = f"lora:{Path(source.path).resolve()}"
            self._groups[source] = group
        return self._groups[source]

    @staticmethod
    def _model_folder(path: Path) -> Path:
        """Where a source's weights and config.json are: a run's model/ (whole-model runs) or the folder."""
        folder = RunFolder(path)
        artifact = folder.artifact_dir if folder.is_run() else None
        return artifact if artifact is not None and (artifact / "config.json").exists() else path

    def context_length(self, model_id: str) -> int:
        source = self.source(model_id)
        folder = Path(source.base) if source.base else source.path
        run = RunFolder(folder)
        run_base = run.info().base_model_path if run.is_run() else None
        config = (read_json(self._model_folder(folder) / "config.json")
                  or (read_json(Path(run_base) / "config.json") if run_base else {}))
        return int(config.get("max_position_embeddings") or 512)

    # loading (engine thread only) -------------------------------------------------------------------
    def acquire(self, model_id: str) -> LoadedModel:
        source = self.source(model_id)
        if model_id in self._loaded:
            self._loaded.move_to_end(model_id)
            return self._loaded[model_id]
        if source.kind == "base":  # not counted by the LRU (adapters need it); kept while its model object lives
            base = self._base(str(source.path))
            loaded = self._base_loaded.get(model_id)
            if loaded is None or loaded.model is not base:
                loaded = self._finish(source, base, adapter=None, shared=base if hasattr(base, "peft_config") else None)
                self._base_loaded[model_id] = loaded
            return loaded
        loaded = self._attach_adapter(source) if source.kind == "adapter" else self._load_run(source)
        self._loaded[model_id] = loaded
        self._evict()
        return loaded

    def _base(self, folder: str, for_adapters: bool = False):
        from tunesmith.models.loading import load_causal_lm

        if for_adapters and getattr(self._bases.get(folder), "tunesmith_onednn", False):
            del self._bases[folder]  # its layers are no longer nn.Linear: PEFT needs a plain copy
        if folder not in self._bases:
            model = load_causal_lm(folder, dtype=self.dtype).eval()
            serves_adapters = for_adapters or any(
                s.kind == "adapter" and s.base and Path(s.base).resolve() == Path(folder).resolve()
                for s in self.sources.values())
            if self.linear_kernel == "onednn" and not serves_adapters:
                from tunesmith.serve.kernels import use_onednn_linear

                use_onednn_linear(model)
            self._bases[folder] = model
        return self._bases[folder]

    def _attach_adapter(self, source: ModelSource) -> LoadedModel:
        from peft import PeftModel

        adapter_dir = _adapter_folder(source.path)
        base = self._base(source.base, for_adapters=True)
        if isinstance(base, PeftModel):
            base.load_adapter(str(adapter_dir), adapter_name=source.model_id)
        else:
            base = PeftModel.from_pretrained(base, str(adapter_dir), adapter_name=source.model_id).eval()
            self._bases[source.base] = base
        return self._finish(source, base, adapter=source.model_id, shared=base)

    def _load_run(self, source: ModelSource) -> LoadedModel:
        if source.kind == "classifier" and not RunFolder(source.path).is_run():
            from transformers import AutoModelForSequenceClassification

            model = AutoModelForSequenceClassification.from_pretrained(source.path, use_safetensors=True).eval()
            loaded = self._finish(source, model)
            loaded.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
            return loaded
        from tunesmith.methods import get_method
        from tunesmith.train import load_run

        run = load_run(source.path, action="serve")
        if self.linear_kernel == "onednn" and source.kind != "classifier":
            from tunesmith.serve.kernels import use_onednn_linear

            use_onednn_linear(run.model)  # leaves PEFT models (virtual-token methods) alone
        loaded = self._finish(source, run.model.eval())
        loaded.tokenizer = run.tokenizer
        loaded.labels = list(getattr(run, "labels", None) or [])
        loaded.plain_generate = get_method(run.info.method).virtual_tokens
        return loaded

    def _finish(self, source: ModelSource, model, adapter: str | None = None, shared=None) -> LoadedModel:
        tokenizer = self.tokenizer(source.model_id)
        from tunesmith.models.loading import end_of_turn_ids

        eos = end_of_turn_ids(tokenizer, getattr(model, "generation_config", None))
        return LoadedModel(source.model_id, model, tokenizer, source.kind, frozenset(eos),
                           tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
                           self.context_length(source.model_id), adapter=adapter, shared=shared)

    def _evict(self) -> None:
        while len(self._loaded) > self.max_loaded:
            _model_id, old = self._loaded.popitem(last=False)
            if old.adapter is not None and old.shared is not None:
                old.shared.delete_adapter(old.adapter)

    @property
    def loaded_ids(self) -> list[str]:
        return list(self._loaded)
