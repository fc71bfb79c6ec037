"""The terminal summary of a prepared dataset (the short form of report.html)."""

from __future__ import annotations

from rich.table import Table

from tunesmith.data.dataset import PreparedDataset


def print_summary(dataset: PreparedDataset, console) -> None:
    manifest = dataset.manifest
    counts = manifest["counts"]
    console.print(f"[bold]dataset {dataset.version}[/bold] ({dataset.task}) in {dataset.path}")
    table = Table(title="what happened", show_header=True)
    table.add_column("step")
    table.add_column("records", justify="right")
    for key, value in counts.items():
        if value:
            table.add_row(key.replace("_", " "), f"{value:,}")
    console.print(table)
    if manifest.get("labels"):
        labels = Table(title="labels")
        for column in ("label", "train", "validation", "test"):
            labels.add_column(column)
        for label, per_split in manifest["labels"].items():
            labels.add_row(label, *(str(per_split[s]) for s in ("train", "validation", "test")))
        console.print(labels)
    tokens = manifest.get("tokens")
    if tokens:
        share = f", trained share {tokens['trained_share']:.0%}" if tokens.get("trained_share") is not None else ""
        console.print(f"tokens: p50 {tokens['p50']}, p90 {tokens['p90']}, max {tokens['max']}; "
                      f"{tokens['overlong']} over max_length {tokens['max_length']} ({tokens['overlong_action']})"
                      f"{share}", highlight=False)
    for warning in manifest.get("warnings", [])[:10]:
        console.print(f"[yellow]warning[/yellow] {warning['file']}:{warning['line']} {warning['message']}",
                      highlight=False)
    if counts.get("rejected"):
        console.print(f"{counts['rejected']} rejected row(s) in {dataset.rejects_path}", highlight=False)
    console.print(f"report: {dataset.report_path}", highlight=False)
