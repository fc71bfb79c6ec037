"""Helpers of the contract tests: parcel records that share one system prompt, a lively tiny base, a project."""

from __future__ import annotations

import json

SYSTEM = "You are the parcel desk of Larkspur Cycles."
COLOURS = ["red", "blue", "green", "gold", "black", "white", "pink", "gray"]


def parcel_records(n: int, start: int = 0, system: str | None = SYSTEM) -> list[dict]:
    head = [{"role": "system", "content": system}] if system is not None else []
    return [{"id": f"p{i}", "meta": {"facts": [COLOURS[i % len(COLOURS)]]}, "messages": [
        *head, {"role": "user", "content": f"What colour is parcel {i}?"},
        {"role": "assistant", "content": f"Parcel {i} is {COLOURS[i % len(COLOURS)]}."}]}
        for i in range(start, start + n)]


def lively_base(folder):
    """The tiny Llama with wider random weights, so greedy answers differ per prompt."""
    from tunesmith.models.tiny import lively_causal_lm

    model, tokenizer = lively_causal_lm()
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def project_config(base, **objective):
    from tunesmith.config import parse_config

    return parse_config({
        "name": "parcels", "objective": {"task": "chat", **objective},
        "data": {"sources": [{"path": "sources/parcels.jsonl"}], "validation_share": 0.2, "test_share": 0.2},
        "model": {"name": str(base), "max_length": 64},
        "method": {"name": "lora", "r": 2, "alpha": 4, "dropout": 0.0},
        "training": {"max_steps": 2, "batch_size": 4, "eval_every": 1, "learning_rate": 5e-3, "warmup_ratio": 0.0,
                     "num_threads": 1},
        "evaluation": {"max_examples": 4, "max_new_tokens": 6, "few_shot_k": 0, "bootstrap_samples": 100},
        "serve": {"export": {"parity_prompts": 3, "parity_max_new_tokens": 6}},
    })


def make_project(root, base, records, **objective):
    """A prepared project with one finished run: (project, dataset, run folder)."""
    from tunesmith.data import prepare
    from tunesmith.project import Project
    from tunesmith.runs import RunFolder
    from tunesmith.train import train

    (root / "sources").mkdir(parents=True)
    (root / "sources" / "parcels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    project = Project.create(root, project_config(base, **objective))
    dataset = prepare(project)
    return project, dataset, RunFolder(train(project, dataset).run_dir)
