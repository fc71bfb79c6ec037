"""tunesmith: fine-tune small language models offline, evaluate them honestly, serve and improve them.

The public Python API. Names load lazily, so `import tunesmith` stays fast and pulls in torch only
when a stage is used. Add a stage's public names to `_EXPORTS` as `name: module`.
"""

from __future__ import annotations

import importlib
import logging
import warnings

# Library notices a tunesmith user cannot act on, printed in the middle of training and evaluation:
# bitsandbytes (installed for qlora, imported by PEFT for every adapter) logs on CPUs with AVX512-BF16
# that an optional inference kernel is missing; PEFT reads a transformers property renamed in v5.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)

_EXPORTS = {
    "Project": "tunesmith.project",
    "ProjectConfig": "tunesmith.config",
    "load_config": "tunesmith.config",
    "resolve_model": "tunesmith.models",
    "run_quickstart": "tunesmith.quickstart.run",
    "train": "tunesmith.train",
    "run_training": "tunesmith.train",
    "load_run": "tunesmith.train",
    "RunFolder": "tunesmith.runs",
    "RunInfo": "tunesmith.runs",
    "resolve_run": "tunesmith.runs",
    "prepare": "tunesmith.data",
    "load_prepared": "tunesmith.data",
    "PreparedDataset": "tunesmith.data",
    "compare": "tunesmith.evaluate",
    "embed": "tunesmith.embeddings.api",
    "Comparison": "tunesmith.evaluate",
    "export": "tunesmith.deploy",
    "build_server": "tunesmith.serve",
    "create_app": "tunesmith.serve",
    "create_finetune_router": "tunesmith.finetune_api",
    "FinetuneAPI": "tunesmith.finetune_api",
    "open_store": "tunesmith.feedback",
    "open_project_store": "tunesmith.feedback",
    "record_feedback": "tunesmith.feedback",
    "import_feedback": "tunesmith.feedback",
    "promote": "tunesmith.feedback",
    "rollback": "tunesmith.feedback",
    "production_run": "tunesmith.feedback",
    "improve": "tunesmith.feedback.improve",
    "Plan": "tunesmith.plan",
    "predict_for_run": "tunesmith.plan",
    "list_runs": "tunesmith.experiments",
    "export_run": "tunesmith.experiments",
    "reproduce": "tunesmith.experiments",
    "tune": "tunesmith.experiments",
    "build_studio": "tunesmith.studio",
    "launch_studio": "tunesmith.studio",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tunesmith' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = sorted(_EXPORTS)
