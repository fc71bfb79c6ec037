"""The run folder contract: the only module that knows what is in runs/<id>/ and how runs are named.

- `RunFolder(path)`: the folder's files (`.config_file`, `.metrics_file`, `.tokenizer_dir`, ...), its record
  (`.info()` → `RunInfo`), `.finished`, `.require_finished(action)` (the one refusal), `.project_root`,
  `.dataset_dir`, `.config()` (the saved config, read tolerantly) and `.metric_rows()`.
- `RunInfo`: run.json typed; `finished` is status "completed" with its adapter/ or model/ present.
- `InferenceContract` (`RunFolder.inference_contract()`): how the run's model is prompted (system prompt, chat
  template, generation defaults, labels); `rendered_prompt` is the one way a conversation becomes model input.
- `resolve_run(ref, project_root)`: a run id, a unique part of one, `latest` or a path (relative paths
  against the project first, then the current directory).
- `save_run_config` / `load_run_config`: config.yaml with a `schema_version`; older ones load with warnings.
"""

from tunesmith.runs.contract import (
    CONTRACT_FILE,
    InferenceContract,
    SharedSystemPrompt,
    rendered_prompt,
    shared_system_prompt,
    training_contract,
    with_contract,
)
from tunesmith.runs.folder import (
    ARTIFACT_DIRS,
    CARD_FILE,
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    ENVIRONMENT_FILE,
    EVAL_DIR,
    METRICS_FILE,
    PLAN_FILE,
    PLOT_FILE,
    REPRODUCTION_FILE,
    RUN_FILE,
    TOKENIZER_DIR,
    TRIAL_FILE,
    WEIGHT_DIRS,
    RunFolder,
    read_json,
)
from tunesmith.runs.info import RunInfo
from tunesmith.runs.naming import find_run, list_run_folders, resolve_run
from tunesmith.runs.saved_config import SCHEMA_VERSION, load_run_config, save_run_config, upgrade

__all__ = [
    "ARTIFACT_DIRS", "CARD_FILE", "CHECKPOINTS_DIR", "CONFIG_FILE", "CONTRACT_FILE", "ENVIRONMENT_FILE", "EVAL_DIR",
    "METRICS_FILE", "PLAN_FILE", "PLOT_FILE", "REPRODUCTION_FILE", "RUN_FILE", "SCHEMA_VERSION", "TOKENIZER_DIR",
    "TRIAL_FILE", "WEIGHT_DIRS", "InferenceContract", "RunFolder", "RunInfo", "SharedSystemPrompt", "find_run",
    "list_run_folders", "load_run_config", "read_json", "rendered_prompt", "resolve_run", "save_run_config",
    "shared_system_prompt", "training_contract", "upgrade", "with_contract",
]
