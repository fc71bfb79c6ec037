"""Put the headline evaluation numbers into each run's model card (runs/<id>/README.md and its copy in the
run's adapter/ or model/), idempotently: the section in the body and the front matter's model-index."""

from __future__ import annotations

import os
from pathlib import Path

from tunesmith.runs import RunFolder

START = "<!-- tunesmith:evaluation:start -->"
END = "<!-- tunesmith:evaluation:end -->"


def card_section(comparison, report_path: Path | None = None) -> str:
    """A small Markdown section: headline metrics per contender with 95% CIs, the verdict, and which
    method made each interval."""
    from tunesmith.evaluate.comparison import format_estimate

    metrics = comparison.metrics_shown()[:3]
    caveat = [f"**{comparison.caveat}**", ""] if comparison.caveat else []
    lines = [START, "## Evaluation", "", *caveat,
             f"{comparison.split_title}, {len(comparison.items)} examples; mean [95% CI].", "",
             "| contender | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    lines += [f"| {row.name} | " + " | ".join(format_estimate(row.metrics.get(m)) for m in metrics) + " |"
              for row in comparison.rows]
    lines += ["", comparison.verdict]
    notes = comparison.method_notes()
    if notes:
        lines += ["", "  \n".join(notes)]  # one paragraph, a Markdown line break after each note
    if report_path is not None:  # relative to the card's folder (a path outside the project stays absolute)
        lines += ["", f"Full report: [{Path(report_path).name}]({Path(report_path).as_posix()})"]
    return "\n".join([*lines, END])


def with_section(text: str, section: str) -> str:
    """Replace an earlier evaluation section, or append one: running eval twice leaves one section."""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        return head + section + tail
    return text.rstrip("\n") + ("\n\n" if text.strip() else "") + section + "\n"


def _report_link(report: Path | None, run_dir: Path) -> Path | None:
    if report is None:
        return None
    try:
        return Path(os.path.relpath(Path(report).resolve(), Path(run_dir).resolve()))
    except ValueError:  # another drive (Windows)
        return Path(report).resolve()


def eval_results(comparison, run_name: str, task: str | None, dataset: str | None) -> list:
    """The run's headline metrics as Hugging Face model-index entries."""
    import math

    from huggingface_hub import EvalResult

    row = next((r for r in comparison.rows if r.name == run_name), None)
    if row is None:
        return []
    kind = "text-classification" if task == "classification" else "text-generation"
    return [EvalResult(task_type=kind, dataset_type=dataset or "held-out", dataset_name=f"held-out {comparison.split}",
                       dataset_split=comparison.split, metric_type=metric, metric_name=metric,
                       metric_value=round(float(row.metrics[metric].mean), 4))
            for metric in comparison.metrics_shown()
            if metric in row.metrics and not math.isnan(row.metrics[metric].mean)]


def update_model_cards(comparison) -> list[Path]:
    from tunesmith.evaluate.model_card import dataset_id, training_card, with_results, write_run_cards

    updated = []
    for result in comparison.results:
        if result.kind != "run" or result.run_dir is None:
            continue
        folder = RunFolder(result.run_dir)
        info = folder.info()
        text = folder.card_file.read_text(encoding="utf-8") if folder.card_file.exists() else training_card(folder)
        text = with_section(text, card_section(comparison, _report_link(comparison.report_html, folder.path)))
        text = with_results(text, info, result.name, eval_results(comparison, result.name, info.task,
                                                                   dataset_id(info)))
        updated += write_run_cards(folder, text)
    return updated
