"""`tunesmith improve`: corrections -> new dataset version -> retrain -> evaluate -> promote only if better.

The candidate is trained with the production model's own config (runs/<id>/config.yaml) and both are
evaluated on the same held-out split. It is promoted only when it beats production on the primary metric
by at least `feedback.promotion_margin` and the paired permutation test gives p < `feedback.significance`;
otherwise production stays and the result says why.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from sqlalchemy import select, update

from tunesmith.config import FeedbackConfig
from tunesmith.errors import TunesmithError
from tunesmith.feedback.registry import VersionInfo, production_version, promote, record_dataset_version, register_run
from tunesmith.feedback.schema import Feedback, ModelVersion, StageEvent
from tunesmith.feedback.store import Store, open_project_store
from tunesmith.progress import console
from tunesmith.runs import RunFolder


@dataclass
class Decision:
    promote: bool
    reason: str
    metric: str
    difference: float
    low: float
    high: float
    p_value: float
    n: int


@dataclass
class ImproveResult:
    outcome: str  # "promoted", "kept" or "skipped"
    reason: str
    production: VersionInfo | None = None
    candidate: VersionInfo | None = None
    dataset_version: str | None = None
    decision: Decision | None = None
    feedback: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"outcome": self.outcome, "reason": self.reason, "dataset_version": self.dataset_version,
                "production": asdict(self.production) if self.production else None,
                "candidate": asdict(self.candidate) if self.candidate else None,
                "decision": asdict(self.decision) if self.decision else None, "feedback": self.feedback}


def decide(metric: str, candidate: list[float], production: list[float], settings: FeedbackConfig,
           samples: int = 1000, seed: int = 0) -> Decision:
    """The promotion rule on per-item scores of the same held-out items (pure)."""
    from tunesmith.evaluate.stats import paired_test
    from tunesmith.evaluate.summary import LOWER_IS_BETTER, metric_range

    test = paired_test(metric, "candidate", candidate, "production", production, samples, seed,
                       bounds=metric_range(metric))
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    gain = sign * test.difference.mean
    low, high = sorted((sign * test.difference.low, sign * test.difference.high))
    stats = (f"{metric} gain {gain:+.3f} (95% CI {low:+.3f} to {high:+.3f}, {test.p_text}, "
             f"n = {test.difference.n})")
    if test.difference.n == 0 or math.isnan(gain):
        return Decision(False, f"no comparable {metric} scores", metric, 0.0, 0.0, 0.0, 1.0, 0)
    if gain < settings.promotion_margin:
        reason = f"the candidate does not beat production by the margin {settings.promotion_margin:g}: {stats}"
    elif test.p_value >= settings.significance:
        reason = f"the gain is not significant at {settings.significance:g}: {stats}"
    else:
        return Decision(True, f"the candidate wins: {stats}", metric, gain, low, high, test.p_value,
                        test.difference.n)
    return Decision(False, reason, metric, gain, low, high, test.p_value, test.difference.n)


def _corrections(store: Store) -> list[dict]:
    with store.session() as session:
        rows = session.scalars(select(Feedback).where((Feedback.correction.isnot(None)) |
                                                      (Feedback.label.isnot(None))).order_by(Feedback.id)).all()
        return [{"id": r.id, "response_id": r.response_id, "messages": r.messages, "correction": r.correction,
                 "label": r.label} for r in rows]


def _mark_used(store: Store, feedback_ids: list[int], label: str) -> None:
    if not feedback_ids:
        return
    with store.session() as session:
        session.execute(update(Feedback).where(Feedback.id.in_(feedback_ids), Feedback.used_in.is_(None))
                        .values(used_in=label))


def _run_config(project, production: VersionInfo):
    folder = RunFolder(Path(production.run_path))
    return folder.config() if folder.config_file.is_file() else project.config


def improve(project, store: Store | None = None) -> ImproveResult:
    """One improve cycle for `project` (a tunesmith.project.Project), under the project's improve lock."""
    from tunesmith.feedback.schedule import improve_lock

    with improve_lock(project.root):
        return _improve(project, store or open_project_store(project))


def _improve(project, store: Store) -> ImproveResult:
    from tunesmith.data import load_prepared
    from tunesmith.evaluate import compare
    from tunesmith.feedback.dataset import build_feedback_version
    from tunesmith.project import Project
    from tunesmith.train import train

    production = production_version(store)
    if production is None:
        raise TunesmithError("no model is in production, so there is nothing to improve",
                             "Promote a run first: `tunesmith models promote runs/<run-id>`.")
    rows = _corrections(store)
    considered = [row["id"] for row in rows]
    if not rows:
        return ImproveResult("skipped", "there is no corrected feedback yet", production)
    parent_folder = project.data_dir / (production.dataset_version or "")
    if not production.dataset_version or not (parent_folder / "manifest.json").exists():
        raise TunesmithError(f"the dataset of the production model v{production.id} "
                             f"({production.dataset_version or 'unknown'}) is not in {project.data_dir}",
                             "Improve needs the dataset the production model was trained on.")
    parent = load_prepared(parent_folder)
    config = _run_config(project, production)
    candidate_project = Project(project.root, config)
    console.print(f"building a dataset version from {len(rows)} corrections on top of {parent.version}")
    built = build_feedback_version(candidate_project, parent, rows)
    if built is None or built.dataset is None:
        _mark_used(store, considered, "nothing-new")
        dropped = built.dropped if built else {}
        return ImproveResult("skipped", f"no correction adds anything new to the training data ({dropped})",
                             production, feedback={"corrections": len(rows), "dropped": dropped})
    dataset = built.dataset
    with store.session() as session:
        record_dataset_version(session, dataset.version, dataset.path, parent=parent.version, origin="feedback",
                               counts=dataset.counts(), feedback_items=built.added)
    console.print(f"retraining {config.method.name} on {dataset.version} with the production model's config")
    run = train(candidate_project, dataset)
    candidate = register_run(store, run.run_dir, parent_id=production.id, dataset_version=dataset.version,
                             note=f"improve: {built.added} corrections")
    console.print(f"evaluating v{candidate.id} against production v{production.id} on the same held-out split")
    comparison = compare(candidate_project, dataset, [Path(production.run_path), run.run_dir], baselines=False,
                         out_dir=RunFolder(run.run_dir).eval_dir)
    by_name = {result.name: result for result in comparison.results}
    metric = comparison.primary
    decision = decide(metric, by_name[run.run_dir.name].per_item[metric],
                      by_name[Path(production.run_path).name].per_item[metric], store.settings,
                      config.evaluation.bootstrap_samples, config.evaluation.seed)
    scores = {"metric": metric, "gain": decision.difference, "p_value": decision.p_value, "n": decision.n,
              "report": str(comparison.report_html or "")}
    _save_scores(store, candidate.id, scores, decision.reason)
    candidate = replace(candidate, scores=scores, note=decision.reason)
    _mark_used(store, considered, dataset.version)
    summary = {"corrections": len(rows), "added": built.added, "dropped": built.dropped}
    if decision.promote:
        candidate = promote(store, candidate.id, reason="improve: " + decision.reason)
        outcome = "promoted"
    else:
        outcome = "kept"
    result = ImproveResult(outcome, decision.reason, production, candidate, dataset.version, decision, summary)
    (run.run_dir / "improve.json").write_text(json.dumps(result.to_dict(), indent=2, default=str), encoding="utf-8")
    return result


def _save_scores(store: Store, version_id: int, scores: dict, reason: str) -> None:
    with store.session() as session:
        version = session.get(ModelVersion, version_id)
        version.scores = scores
        version.note = reason
        session.add(StageEvent(model_version_id=version_id, from_stage="candidate", to_stage="candidate",
                               reason="evaluated: " + reason))


def condition_values(store: Store) -> dict[str, float]:
    """The numbers `--when` conditions test (see schedule.CONDITION_NAMES)."""
    from tunesmith.feedback.capture import feedback_count
    from tunesmith.feedback.schema import utcnow

    values = {"feedback": float(feedback_count(store, corrected_only=True, unused_only=True)),
              "ratings": float(feedback_count(store, unused_only=True)), "days": math.inf}
    production = production_version(store)
    if production is not None:
        with store.session() as session:
            since = session.scalars(select(StageEvent.at).where(StageEvent.model_version_id == production.id,
                                                                StageEvent.to_stage == "production")
                                    .order_by(StageEvent.id.desc())).first()
        if since is not None:
            values["days"] = (utcnow() - since).total_seconds() / 86400
    return values
