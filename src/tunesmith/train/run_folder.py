"""The run folder's files besides checkpoints: config.yaml, run.json, the model card, the artifact."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tunesmith.config import ProjectConfig
from tunesmith.runs import CARD_FILE, CONFIG_FILE, RUN_FILE, save_run_config


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def read_run(run_dir: Path) -> dict:
    path = Path(run_dir) / RUN_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def write_config(run_dir: Path, config: ProjectConfig) -> None:
    save_run_config(config, run_dir / CONFIG_FILE)


def model_card(info: dict) -> str:
    metrics = info.get("metrics", {})
    rows = "\n".join(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |"
                     for k, v in metrics.items())
    labels = f"\nLabels: {', '.join(info['labels'])}\n" if info.get("labels") else ""
    warnings = "".join(f"\n> **Warning:** {w}\n" for w in info.get("warnings", []))
    artifact = info.get("artifact", "adapter")
    if artifact == "adapter" and info["method"] != "adapter":
        auto = "AutoModelForSequenceClassification" if info["task"] == "classification" else "AutoModelForCausalLM"
        usage = (f"```python\nfrom peft import PeftModel\nfrom transformers import {auto}\n"
                 f"base = {auto}.from_pretrained({info['base_model_path']!r})\n"
                 "model = PeftModel.from_pretrained(base, 'adapter')\n```")
    else:
        usage = "```python\nfrom tunesmith.train import load_run\nrun = load_run('.')\n```"
    return f"""# {info.get('project', 'tunesmith')} · {info['method']} fine-tune of {info['base_model']}

- Task: {info['task']}
- Method: {info['method']} ({info['trainable_params']:,} of {info['total_params']:,} parameters trained)
- Base model: {info['base_model']}
- Training data: dataset version {info.get('dataset_version') or 'unversioned'} \
({info.get('train_examples', '?')} training / {info.get('validation_examples', '?')} validation examples)
- Status: {info['status']} after {info.get('steps', 0)} optimizer steps ({info.get('seconds', 0):.0f} s)
{labels}{warnings}
## Metrics

| metric | value |
|---|---|
{rows}

## Use

{usage}

Trained with tunesmith; `config.yaml` beside this file is the exact configuration.
"""


def write_card(run_dir: Path, info: dict) -> None:
    (run_dir / CARD_FILE).write_text(model_card(info), encoding="utf-8")
