"""The result of `compare()`: rows with intervals, paired tests, a verdict, and where the reports are."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table

from tunesmith.evaluate.contenders import ContenderResult
from tunesmith.evaluate.stats import PairedTest
from tunesmith.evaluate.summary import Row, method_notes, metric_order

TABLE_METRICS = 3  # per-item metrics shown in the terminal; the report has all of them


def format_estimate(estimate) -> str:
    if estimate is None or math.isnan(estimate.mean):
        return "–"
    if math.isnan(estimate.low):
        return f"{estimate.mean:.3f} [no interval]"
    return f"{estimate.mean:.3f} [{estimate.low:.3f}, {estimate.high:.3f}]"


def short_estimate(estimate, sign: str = "") -> str:
    if estimate is None or math.isnan(estimate.mean):
        return "–"
    if math.isnan(estimate.low):
        return f"{estimate.mean:{sign}.2f} [no interval]"
    return f"{estimate.mean:{sign}.2f} [{estimate.low:{sign}.2f}–{estimate.high:{sign}.2f}]"


@dataclass
class Comparison:
    task: str
    split: str
    primary: str
    rows: list[Row]
    tests: list[PairedTest]
    verdict: str
    results: list[ContenderResult] = field(default_factory=list)
    items: list = field(default_factory=list)
    report_json: Path | None = None
    report_html: Path | None = None
    diagnostics: dict = field(default_factory=dict)
    split_note: str = ""  # how the scored split was made (from the dataset manifest)
    caveat: str = ""  # set when the split is not an untouched test split: leads every view
    data_tokens: dict = field(default_factory=dict)  # the dataset's token statistics (overlong count), if measured

    @property
    def split_title(self) -> str:
        return f"Held-out {self.split} split" if not self.caveat else f"{self.split.capitalize()} split (optimistic)"

    def row(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)

    def metrics_shown(self) -> list[str]:
        names = metric_order(list(dict.fromkeys(m for r in self.rows for m in r.metrics if m != "confidence")))
        names.remove(self.primary)
        return [self.primary, *names][:TABLE_METRICS]

    def method_notes(self) -> list[str]:
        """The footnote for the views with the headline metrics and the primary metric's differences."""
        return method_notes(self.rows, self.tests, self.metrics_shown(), [self.primary])

    def corpus_shown(self) -> list[str]:
        wanted = ["f1_macro", "f1_weighted"] if self.task == "classification" else ["chrf", "perplexity"]
        return [m for m in wanted if any(m in r.corpus for r in self.rows)]

    def definitions(self) -> list[tuple[str, str]]:
        """One sentence for each metric the table shows (evaluate/metric_definitions.py)."""
        from tunesmith.evaluate.metric_definitions import definitions_for

        return definitions_for([*self.metrics_shown(), *self.corpus_shown()])

    def render(self) -> Table:
        """One table: each contender with mean [95% CI] per metric, and the primary difference vs the best baseline."""
        table = Table(title=f"{self.split_title} · {len(self.items)} examples · mean [95% CI]",
                      show_lines=False)
        table.add_column("contender", style="bold")
        metrics, corpus = self.metrics_shown(), self.corpus_shown()
        for metric in metrics:
            table.add_column(metric + (" ★" if metric == self.primary else ""), justify="right")
        for metric in corpus:
            table.add_column(metric, justify="right")
        table.add_column("Δ★ vs best baseline", justify="right")
        best_base = self._best_baseline()
        for row in self.rows:
            cells = [short_estimate(row.metrics.get(m)) for m in metrics]
            cells += [f"{row.corpus[m]:.1f}" if m in row.corpus else "–" for m in corpus]
            test = next((t for t in self.tests if t.a == row.name and best_base and t.b == best_base.name
                         and t.metric == self.primary), None)
            if test is None:
                cells.append("")
            else:
                mark = "significant" if test.significant else "n.s."
                cells.append(f"{short_estimate(test.difference, '+')} {mark}")
            table.add_row(row.name, *cells)
        return table

    def _best_baseline(self) -> Row | None:
        from tunesmith.evaluate.summary import LOWER_IS_BETTER

        baselines = [r for r in self.rows if r.kind != "run" and self.primary in r.metrics]
        if not baselines:
            return None
        sign = -1 if self.primary in LOWER_IS_BETTER else 1
        return max(baselines, key=lambda r: sign * r.metrics[self.primary].mean)

    def print(self, console=None) -> None:
        from rich.console import Console

        console = console or Console()
        if self.caveat:
            console.print(f"warning: {self.caveat}", style="bold yellow", highlight=False)
        console.print(self.render())
        if self.split_note:
            console.print(f"{self.split} split: {self.split_note}", style="dim", highlight=False)
        for note in self.method_notes():
            console.print(note, style="dim", highlight=False)
        for metric, sentence in self.definitions():
            console.print(f"{metric}: {sentence}", style="dim", highlight=False)
        if any("judge" in row.metrics for row in self.rows):
            console.print("judge = model-as-judge with a small local model: indicative only, not the verdict.")
        console.print(f"[bold]{self.verdict}[/bold]")
        if self.report_html:
            console.print(f"Report: {self.report_html}")
