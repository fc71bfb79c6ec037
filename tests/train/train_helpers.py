"""Helpers for training tests: tiny configs and small synthetic datasets."""

from __future__ import annotations

from tunesmith.config import parse_config
from tunesmith.config.method import option_names

# The smallest sensible size of each option a method may have, so every registered method trains fast.
TINY_OPTIONS = {"r": 4, "alpha": 8, "dropout": 0.0, "num_virtual_tokens": 4, "bottleneck_size": 8}


def chat_records(n: int, seed: int = 0) -> list[dict]:
    words = ["red", "blue", "green", "gold", "black", "white", "pink", "gray"]
    records = []
    for i in range(n):
        colour = words[(i + seed) % len(words)]
        records.append({"id": f"c{i}", "messages": [
            {"role": "user", "content": f"What colour is item {i}?" + " Please answer." * (i % 4)},
            {"role": "assistant", "content": f"Item {i} is {colour}."}]})
    return records


def classification_records(n: int) -> list[dict]:
    return [{"id": f"t{i}", "text": ("great lovely fine " if i % 2 else "awful bad sad ") * (1 + i % 3),
             "label": "pos" if i % 2 else "neg"} for i in range(n)]


def text_records(n: int) -> list[dict]:
    return [{"id": f"r{i}", "text": "The quick brown fox jumps over the lazy dog. " * (1 + i % 3)} for i in range(n)]


def tiny_config(model_dir, method: str = "lora", task: str = "chat", **training):
    options = {"epochs": 2, "batch_size": 4, "eval_every": 4, "learning_rate": 5e-3, "warmup_ratio": 0.0,
               "num_threads": 1, **training}
    method_options = {"name": method, **{k: v for k, v in TINY_OPTIONS.items() if k in option_names(method)}}
    return parse_config({"objective": {"task": task}, "model": {"name": str(model_dir), "max_length": 64},
                         "method": method_options, "training": options})


def write_project(root, model_dir, records: list[dict] | None = None, **training) -> None:
    """A project folder training `model_dir` on chat records (LoRA, tiny settings)."""
    import json

    import yaml

    root.mkdir(parents=True, exist_ok=True)
    (root / "chats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records or chat_records(24)))
    config = {"name": "demo", "objective": {"task": "chat"}, "data": {"sources": [{"path": "chats.jsonl"}]},
              "model": {"name": str(model_dir), "max_length": 64}, "method": {"name": "lora", "r": 4, "alpha": 8},
              "training": {"num_threads": 1, "batch_size": 4, "learning_rate": 5e-3, "warmup_ratio": 0.0,
                           **training}}
    (root / "tunesmith.yaml").write_text(yaml.safe_dump(config))


def run_cli(capsys, *args: str) -> tuple[int, str]:
    """`tunesmith ARGS` in this process, the way the installed command runs it (errors: one line, exit 2).
    Returns the exit code and everything written to stderr (progress and errors)."""
    import sys

    from tunesmith.cli import main

    capsys.readouterr()
    argv, sys.argv = sys.argv, ["tunesmith", *map(str, args)]
    try:
        main()
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    finally:
        sys.argv = argv
    return code, capsys.readouterr().err


def error_line(stderr: str) -> str:
    """The one `error:` line the CLI printed."""
    (line,) = [line for line in stderr.splitlines() if line.startswith("error: ")]
    return line
