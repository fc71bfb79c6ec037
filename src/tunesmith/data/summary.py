"""What the data commands print: issue lines and the summary of a prepared dataset (the short form of
report.html).

Every user string (file names, field names, messages quoting the data) reaches rich as a `Text`, never
as markup: a role "[/]" or a line number ":100:" prints as itself, not as a markup error or an emoji.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from tunesmith.data.dataset import PreparedDataset
from tunesmith.data.issues import Issue
from tunesmith.data.report import describe_split, describe_system_prompt

_STYLES = {"error": "red", "warning": "yellow", "info": "cyan"}


def issue_lines(issues: Sequence[Issue]) -> list[Text]:
    """`severity file:line: field: message (what to do)`, so editors and grep can jump to it; the
    problems of one row (or one file) share its line, so a report never has more lines than the input."""
    lines: list[Text] = []
    previous = None
    for issue in issues:
        key = (issue.file, issue.line, issue.severity)
        if key == previous:
            lines[-1].append(f"; {issue.problem}")
            continue
        previous = key
        lines.append(Text.assemble((issue.severity, _STYLES.get(issue.severity, "")), " ", str(issue)))
    return [Text(_printable(line.plain), spans=line.spans) for line in lines]


def _printable(text: str) -> str:
    """A lone surrogate (a file name or header with bytes that are not UTF-8) as its escape, so printing
    never fails."""
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


def print_issues(console, issues: Sequence[Issue], limit: int, rest: str = "raise --limit to see them") -> None:
    lines = issue_lines(issues)
    for line in lines[:limit]:
        console.print(line, soft_wrap=True)
    if len(lines) > limit:
        console.print(Text(f"… and {len(lines) - limit} more ({rest})"))


def print_summary(dataset: PreparedDataset, console) -> None:
    manifest = dataset.manifest
    counts = manifest["counts"]
    console.print(Text.assemble((f"dataset {dataset.version}", "bold"), f" ({dataset.task}) in {dataset.path}"))
    table = Table(title="what happened", show_header=True)
    table.add_column("step")
    table.add_column("records", justify="right")
    for key, value in counts.items():
        if value:
            table.add_row(Text(key.replace("_", " ")), f"{value:,}")
    console.print(table)
    for name in ("train", "validation", "test"):
        how = describe_split(manifest, name)
        if how:
            console.print(Text(f"{name}: {counts.get(name, 0):,} records, {how}"))
    system = describe_system_prompt(manifest)
    if system:
        console.print(Text(system))
    if manifest.get("labels"):
        labels = Table(title="labels")
        for column in ("label", "train", "validation", "test"):
            labels.add_column(column)
        for label, per_split in manifest["labels"].items():
            labels.add_row(Text(label), *(str(per_split[s]) for s in ("train", "validation", "test")))
        console.print(labels)
    tokens = manifest.get("tokens")
    if tokens:
        share = f", trained share {tokens['trained_share']:.0%}" if tokens.get("trained_share") is not None else ""
        console.print(f"tokens: p50 {tokens['p50']}, p90 {tokens['p90']}, max {tokens['max']}; "
                      f"{tokens['overlong']} over max_length {tokens['max_length']} ({tokens['overlong_action']})"
                      f"{share}", highlight=False)
    for kind in ("warnings", "errors"):
        print_issues(console, [_issue(item) for item in manifest.get(kind, [])], 10, f"all {kind} in report.html")
    if counts.get("rejected"):
        console.print(Text(f"{counts['rejected']} rejected row(s) in {dataset.rejects_path}"))
    if counts.get("dropped_leaks"):
        console.print(Text(f"{counts['dropped_leaks']} record(s) dropped as copies of pinned validation/test records, "
                           f"each with the record it copies, in {dataset.rejects_path}"))
    console.print(Text(f"report: {dataset.report_path}"))


def _issue(item: dict) -> Issue:
    """An issue saved in a manifest (older manifests lack count and lines)."""
    return Issue(item.get("file", ""), item.get("line", 0), item.get("field", ""), item.get("message", ""),
                 item.get("hint", ""), item.get("severity", "warning"), item.get("count", 1),
                 tuple(item.get("lines", ())))
