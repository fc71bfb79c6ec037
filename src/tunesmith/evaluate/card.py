"""Put the headline evaluation numbers into each run's model card (runs/<id>/README.md), idempotently."""

from __future__ import annotations

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
    if report_path is not None:
        lines += ["", f"Full report: `{report_path}`"]
    return "\n".join([*lines, END])


def with_section(text: str, section: str) -> str:
    """Replace an earlier evaluation section, or append one: running eval twice leaves one section."""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        return head + section + tail
    return text.rstrip("\n") + ("\n\n" if text.strip() else "") + section + "\n"


def update_model_cards(comparison) -> list[Path]:
    updated = []
    for result in comparison.results:
        if result.kind != "run" or result.run_dir is None:
            continue
        card = RunFolder(result.run_dir).card_file
        text = card.read_text(encoding="utf-8") if card.exists() else f"# {Path(result.run_dir).name}\n"
        card.write_text(with_section(text, card_section(comparison, comparison.report_html)), encoding="utf-8")
        updated.append(card)
    return updated
