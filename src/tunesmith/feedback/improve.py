"""`tunesmith improve`: feedback -> new dataset version -> retrain -> evaluate -> promote only if better.

`feedback.objective` (auto: `dataset.choose_objective`, which says which and why in one line) decides what the
feedback trains: sft retrains with the production model's own config (runs/<id>/config.yaml) on the parent
dataset plus the corrections; dpo (corrections of a served answer as pairs) and kto (rated answers) train on top
of the production model, which is also their reference model (`reference.merged_start`), with the
`preference` options of tunesmith.yaml. Both models are evaluated on the same held-out split, untouched by
feedback. The candidate is promoted only when it beats production on the primary metric by at least
`feedback.promotion_margin` and the paired test gives p < `feedback.significance`; otherwise production stays
and the result says why.
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
    objective: str | None = None  # what the candidate trained (sft, dpo, kto)
    objective_reason: str = ""

    def to_dict(self) -> dict:
        return {"outcome": self.outcome, "reason": self.reason, "dataset_version": self.dataset_version,
                "objective": self.objective, "objective_reason": self.objective_reason,
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


def _feedback_rows(store: Store) -> list[dict]:
    """Every piece of feedback that may train: corrections, labels, and ratings of a known answer."""
    with store.session() as session:
        rows = session.scalars(select(Feedback).where(
            (Feedback.correction.isnot(None)) | (Feedback.correction_tool_calls.isnot(None)) |
            (Feedback.label.isnot(None)) |
            ((Feedback.score.isnot(None)) & (Feedback.answer.isnot(None)))).order_by(Feedback.id)).all()
        return [{"id": r.id, "response_id": r.response_id, "messages": r.messages, "correction": r.correction,
                 "answer": r.answer, "score": r.score, "label": r.label, "tools": r.tools,
                 "answer_tool_calls": r.answer_tool_calls, "correction_tool_calls": r.correction_tool_calls}
                for r in rows]


def _mark_used(store: Store, feedback_ids: list[int], label: str) -> None:
    if not feedback_ids:
        return
    with store.session() as session:
        session.execute(update(Feedback).where(Feedback.id.in_(feedback_ids), Feedback.used_in.is_(None))
                        .values(used_in=label))


def _run_config(project, production: VersionInfo):
    folder = RunFolder(Path(production.run_path))
    return folder.config() if folder.config_file.is_file() else project.config


@dataclass
class FeedbackSignals:
    """What the store holds for training, and the objective `improve` would train on it."""

    counts: dict[str, int]  # pair, demonstration, rating
    objective: str | None
    reason: str


def feedback_signals(store: Store, task: str, setting: str = "auto") -> FeedbackSignals:
    from tunesmith.feedback.dataset import choose_objective, signal_counts

    counts = signal_counts(_feedback_rows(store), task)
    return FeedbackSignals(counts, *choose_objective(counts, setting, task))


def _candidate_config(project, production: VersionInfo, objective: str):
    """The production run's config training `objective`; a preference objective starts from (and is referenced
    to) the production model, with the project's current `preference` options."""
    from tunesmith.config import ProjectConfig
    from tunesmith.feedback.reference import merged_start

    config = _run_config(project, production)
    data = config.model_dump(mode="json")
    data["training"]["objective"] = objective
    if objective != "sft":
        console.print(f"{objective} starts from production v{production.id} (also its reference model)")
        data["model"]["name"] = str(merged_start(production.run_path))
        data["preference"] = project.config.preference.model_dump(mode="json")
        data["training"]["learning_rate"] *= project.config.feedback.preference_learning_rate_multiplier
    return ProjectConfig.model_validate(data)


def _train_candidate(project, dataset, objective: str):
    from tunesmith.train import run_training, train

    if objective == "sft":
        return train(project, dataset)
    # The parent's validation split holds demonstrations, which a preference objective cannot score; the
    # held-out test split still judges the candidate.
    console.print(f"{objective}: no validation pass during training (the validation split holds demonstrations)")
    config = project.config
    run_dir = project.new_run_dir(f"{config.method.name}-{objective}", create=False)
    return run_training(config, dataset.split("train"), [], run_dir, dataset_version=dataset.version)


def improve(project, store: Store | None = None, objective: str | None = None) -> ImproveResult:
    """One improve cycle for `project` (a tunesmith.project.Project), under the project's improve lock;
    `objective` overrides `feedback.objective` (auto, sft, dpo or kto)."""
    from tunesmith.feedback.schedule import improve_lock

    with improve_lock(project.root):
        return _improve(project, store or open_project_store(project), objective)


def _improve(project, store: Store, setting: str | None) -> ImproveResult:
    from tunesmith.data import load_prepared
    from tunesmith.evaluate import compare
    from tunesmith.feedback.dataset import (
        USES,
        build_feedback_version,
        choose_objective,
        feedback_signal,
        signal_counts,
    )
    from tunesmith.project import Project

    production = production_version(store)
    if production is None:
        raise TunesmithError("no model is in production, so there is nothing to improve",
                             "Promote a run first: `tunesmith models promote runs/<run-id>`.")
    if setting not in (None, "auto", *USES):
        raise TunesmithError(f"unknown improve objective '{setting}'", f"Use auto or one of: {', '.join(USES)}.")
    rows = _feedback_rows(store)
    if not rows:
        return ImproveResult("skipped", "there is no corrected or rated feedback yet", production)
    task = project.config.objective.task
    objective, why = choose_objective(signal_counts(rows, task), setting or store.settings.objective, task)
    console.print(why)
    if objective is None:
        return ImproveResult("skipped", why, production, objective_reason=why)
    rows = [row for row in rows if feedback_signal(row, task) in USES[objective]]
    considered = [row["id"] for row in rows]
    parent_folder = project.data_dir / (production.dataset_version or "")
    if not production.dataset_version or not (parent_folder / "manifest.json").exists():
        raise TunesmithError(f"the dataset of the production model v{production.id} "
                             f"({production.dataset_version or 'unknown'}) is not in {project.data_dir}",
                             "Improve needs the dataset the production model was trained on.")
    parent = load_prepared(parent_folder)
    console.print(f"building a dataset version from {len(rows)} feedback rows on top of {parent.version}")
    built = build_feedback_version(Project(project.root, _run_config(project, production)), parent, rows, objective)
    if built is None or built.dataset is None:
        _mark_used(store, considered, "nothing-new")
        dropped = built.dropped if built else {}
        return ImproveResult("skipped", f"no feedback adds anything new to the training data ({dropped})",
                             production, feedback={"corrections": len(rows), "dropped": dropped},
                             objective=objective, objective_reason=why)
    dataset = built.dataset
    config = _candidate_config(project, production, objective)
    candidate_project = Project(project.root, config)
    with store.session() as session:
        record_dataset_version(session, dataset.version, dataset.path, parent=parent.version, origin="feedback",
                               counts=dataset.counts(), feedback_items=built.added)
    console.print(f"training {config.method.name} ({objective}) on {dataset.version} with the production model's "
                  "config")
    run = _train_candidate(candidate_project, dataset, objective)
    candidate = register_run(store, run.run_dir, parent_id=production.id, dataset_version=dataset.version,
                             note=f"improve ({objective}): {built.added} feedback items")
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
    result = ImproveResult(outcome, decision.reason, production, candidate, dataset.version, decision, summary,
                           objective, why)
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
