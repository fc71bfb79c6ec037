"""Render the HTML report from a Comparison: one self-contained page, plots embedded as base64 PNG."""

from __future__ import annotations

import math

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from tunesmith.evaluate import plots
from tunesmith.evaluate.comparison import format_estimate
from tunesmith.evaluate.diff_view import diff_html
from tunesmith.evaluate.metric_definitions import define, definitions_for, lower_is_better
from tunesmith.evaluate.summary import method_notes

SIDE_BY_SIDE_LIMIT = 30


def _number(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("tunesmith.evaluate", "templates"),
                      autoescape=select_autoescape(["html", "jinja"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _number
    env.filters["estimate"] = format_estimate
    env.filters["define"] = lambda metric: define(metric) or ""
    env.filters["diff"] = lambda output, reference: Markup(diff_html(str(reference or ""), str(output or "")))
    return env


def _figures(comparison, data: dict) -> dict:
    extra = [m for m in ("token_f1", "rouge_l") if m != comparison.primary
             and any(m in r.metrics for r in comparison.rows)]
    metrics = [comparison.primary, *extra[:1]]
    figures = {"intervals": [(m, plots.metric_intervals(comparison.rows, m)) for m in metrics],
               "confusion": [], "loss": []}
    for contender in data["contenders"]:
        details = contender.get("details") or {}
        if details.get("confusion_matrix"):
            figures["confusion"].append((contender["name"], plots.confusion_matrix_plot(
                details["confusion_matrix"], details["labels"], f"{contender['name']}: confusion matrix")))
    for name, entry in (data.get("diagnostics") or {}).get("runs", {}).items():
        curves = entry.get("loss_curves") or {}
        image = plots.loss_curves_plot(curves, f"{name}: loss") if curves else None
        figures["loss"].append((name, image, entry.get("overfitting", "")))
    return figures


def render_html(comparison, data: dict) -> str:
    template = _environment().get_template("report.html.jinja")
    metric_names = comparison.metrics_shown()
    metric_names += [m for m in dict.fromkeys(k for r in comparison.rows for k in r.metrics)
                     if m not in metric_names and m != "confidence"]
    corpus_names = list(dict.fromkeys(k for r in comparison.rows for k in r.corpus if k not in metric_names))
    shown = [*metric_names, *corpus_names]
    if any((c.get("details") or {}).get("per_class") for c in data["contenders"]):
        shown += ["precision", "recall", "f1_macro"]
    return template.render(
        data=data, comparison=comparison, metric_names=metric_names, corpus_names=corpus_names,
        figures=_figures(comparison, data), side_by_side=data["items"][:SIDE_BY_SIDE_LIMIT],
        notes={"rows": method_notes(comparison.rows, [], metric_names), "tests": method_notes([], comparison.tests)},
        contender_names=[r.name for r in comparison.rows], definitions=definitions_for(shown),
        lower_is_better=lower_is_better(shown))
