"""`tunesmith quickstart`: a whole lifecycle in one command on the bundled model.

Creates a project with a Larkspur Cycles example dataset, prepares it, LoRA-tunes smollm2-135m-instruct, and
compares base vs fine-tuned on held-out questions. `task="chat"`: the support dataset (answers that must carry
the company's facts); `task="tools"`: the order and workshop assistant, which calls three tools (tool-call
accuracy of the base model few-shot vs the fine-tuned one); `task="embedding"`: semantic search, customers'
questions finding the right entry of Larkspur's FAQ (minilm-l6 fully fine-tuned; base vs fine-tuned vs BM25
recall@1 on held-out phrasings).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from tunesmith.config import PROJECT_FILE, ProjectConfig, apply_overrides, parse_config
from tunesmith.errors import TunesmithError
from tunesmith.project import Project, ensure_writable
from tunesmith.quickstart.dataset import write_support_dataset
from tunesmith.quickstart.embedding import write_faq_dataset
from tunesmith.quickstart.tools_dataset import write_tools_dataset

DATASET_FILE = "sources/larkspur_support.jsonl"
TOOLS_FILE = "sources/larkspur_tools.jsonl"

# The recipe, as a user would write it in tunesmith.yaml. `--fast` overrides a few keys (FAST below).
RECIPE = {
    "name": "larkspur-support",
    "objective": {
        "task": "chat",
        "description": "Answer customer questions about Larkspur Cycles' e-bikes, prices and policies.",
        "users": "Customers writing to support by chat or email.",
        "expected_output": "A short, correct answer with the company's facts, greeting and sign-off.",
    },
    "data": {"sources": [{"path": DATASET_FILE}], "validation_share": 0.1, "test_share": 0.15, "seed": 42},
    "model": {"name": "smollm2-135m-instruct", "max_length": 256},
    "method": {"name": "lora", "r": 16, "alpha": 32, "dropout": 0.05},
    "training": {"epochs": 3, "learning_rate": 1e-3, "batch_size": 8, "warmup_ratio": 0.05,
                 "eval_every": 20, "seed": 42},
    "evaluation": {"max_new_tokens": 64, "batch_size": 16, "few_shot_k": 3},
}
FAST = ["training.epochs=1", "evaluation.max_examples=16", "evaluation.max_new_tokens=48", "evaluation.few_shot_k=0"]

TOOLS_RECIPE = {
    "name": "larkspur-tools",
    "objective": {
        "task": "chat",
        "description": "Look up or cancel Larkspur Cycles orders and book bike services with the tools; answer "
                       "other questions directly.",
        "users": "Customers writing to the shop's chat.",
        "expected_output": "A tool call with exact arguments when a tool can do it, otherwise a short answer.",
    },
    # Near-duplicate search is off: the conversations are templates that differ only in order numbers, bikes
    # and dates, which is exactly what the model has to learn to copy.
    "data": {"sources": [{"path": TOOLS_FILE}], "validation_share": 0.1, "test_share": 0.2, "seed": 42,
             "near_duplicates": "off"},
    "model": {"name": "smollm2-135m-instruct", "max_length": 512},
    "method": {"name": "lora", "r": 16, "alpha": 32, "dropout": 0.05},
    # Batch 4: each conversation carries ~280 tokens of tool definitions, so steps are what is scarce.
    "training": {"epochs": 1, "learning_rate": 2e-3, "batch_size": 4, "warmup_ratio": 0.05, "eval_every": 20,
                 "seed": 42},
    # A book_service call is 49 tokens: fewer cut every such reference short, for every contender alike.
    "evaluation": {"max_new_tokens": 64, "batch_size": 16, "few_shot_k": 3},
}
# 16 steps of 4 conversations; every held-out item (~96: enough for the paired test to see a real gain), no
# perplexity pass. The prompts' shared start (tool schemas, few-shot examples) is computed once per batch.
TOOLS_FAST = ["training.max_steps=16", "evaluation.max_examples=96", "evaluation.max_new_tokens=56",
              "evaluation.perplexity=false"]


FAQ_FILE = "sources/larkspur_faq.jsonl"
EMBEDDING_RECIPE = {
    "name": "larkspur-faq-search",
    "objective": {
        "task": "embedding",
        "description": "Find the entry of Larkspur Cycles' FAQ that answers a customer's question.",
        "users": "Customers typing questions into the help-centre search box.",
        "expected_output": "The FAQ entry that answers the question, ranked first.",
    },
    "data": {"sources": [{"path": FAQ_FILE}], "validation_share": 0.1, "test_share": 0.3, "seed": 42},
    "model": {"name": "minilm-l6", "max_length": 128},
    "method": {"name": "full"},
    "training": {"epochs": 2, "learning_rate": 5e-5, "batch_size": 32, "warmup_ratio": 0.1, "eval_every": 10,
                 "seed": 42},
}
EMBEDDING_FAST = ["training.epochs=1"]
CHAT_NEXT = "chat with it over an OpenAI-compatible API: [bold]tunesmith serve --project {root}[/bold]"


@dataclass(frozen=True)
class Example:
    recipe: dict
    fast: list[str]
    write: object  # (path) -> path: writes the example's dataset
    source: str
    next_step: str = CHAT_NEXT  # what to try next ({root}: the project folder)
    evaluated: str = "questions"  # what the held-out items are


EXAMPLES = {"chat": Example(RECIPE, FAST, write_support_dataset, DATASET_FILE),
            "tools": Example(TOOLS_RECIPE, TOOLS_FAST, write_tools_dataset, TOOLS_FILE),
            "embedding": Example(EMBEDDING_RECIPE, EMBEDDING_FAST, write_faq_dataset, FAQ_FILE,
                                 "embed texts over an OpenAI-compatible API (POST /v1/embeddings): [bold]tunesmith "
                                 "serve --project {root}[/bold], or tunesmith.embed(texts, model=<run folder>)",
                                 "queries against the whole FAQ")}


@dataclass
class QuickstartResult:
    project: Project
    run_dir: Path
    comparison: object  # tunesmith.evaluate.Comparison
    seconds: float


def create_project(folder: Path, task: str = "chat") -> Project:
    """Write the example dataset and tunesmith.yaml, or reuse the project already there (unless it is another
    quickstart example)."""
    example = EXAMPLES[task]
    folder = ensure_writable(folder.expanduser().resolve())
    if (folder / PROJECT_FILE).exists():
        project = Project.load(folder)
        other = [name for name, e in EXAMPLES.items() if name != task and e.recipe["name"] == project.config.name]
        if other:
            raise TunesmithError(f"{folder} holds the {other[0]} quickstart, not the {task} one",
                                 "Pass another folder for this example.")
        return project
    example.write(folder / example.source)
    return Project.create(folder, parse_config(example.recipe, "quickstart recipe"))


def run_quickstart(folder: Path, fast: bool = False, overrides: list[str] = (),
                   console: Console | None = None, task: str = "chat") -> QuickstartResult:
    from tunesmith.data import prepare
    from tunesmith.evaluate import compare
    from tunesmith.models.catalog import resolve
    from tunesmith.train import train

    # Piped output (CI logs, `| tee`) would otherwise be cut to 80 columns and truncate the table.
    console = console or Console(width=None if sys.stdout.isatty() else 150)
    start = time.perf_counter()
    if task not in EXAMPLES:
        raise TunesmithError(f"unknown quickstart task {task!r}", f"Use one of: {', '.join(EXAMPLES)}.")
    project = create_project(folder, task)
    extra = [*(EXAMPLES[task].fast if fast else []), *overrides]
    config: ProjectConfig = apply_overrides(project.config, extra) if extra else project.config
    project = Project(project.root, config)
    console.rule(f"[bold]tunesmith quickstart[/bold] · {project.root}")
    console.print(f"Objective: {config.objective.description}")

    console.rule("1/4 model")
    resolved = resolve(config.model.name, trust_remote_code=config.model.trust_remote_code)
    console.print(f"{config.model.name} → {resolved.path}")

    console.rule("2/4 data")
    dataset = prepare(project)
    sizes = {name: len(dataset.split(name)) for name in ("train", "validation", "test")}
    console.print(f"dataset version {dataset.version}: " + ", ".join(f"{n} {k}" for k, n in sizes.items()))

    console.rule(f"3/4 fine-tune ({config.method.name})")
    result = train(project, dataset)

    console.rule(f"4/4 evaluate on held-out {EXAMPLES[task].evaluated}")
    comparison = compare(project, dataset, [result.run_dir])
    console.print(comparison.render())
    console.print(f"\n[bold]{comparison.verdict}[/bold]")
    seconds = time.perf_counter() - start
    console.print(f"\nReport: {comparison.report_html}")
    console.print(f"Run folder: {result.run_dir}   (total {seconds / 60:.1f} min)")
    console.print("Next: " + EXAMPLES[task].next_step.format(root=project.root))
    return QuickstartResult(project, result.run_dir, comparison, seconds)
