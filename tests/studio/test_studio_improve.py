"""The Improve page without a browser: it counts the pairs, corrections and ratings in the store, says what each
objective would train, and starts the background improve with the objective chosen on the page."""

from __future__ import annotations

from tunesmith.config import parse_config
from tunesmith.feedback import open_project_store, record_feedback
from tunesmith.project import Project
from tunesmith.studio.context import StudioContext
from tunesmith.studio.pages.improve import improve_args, signals_markdown

PROMPT = [{"role": "user", "content": "Can I fit mudguards to a carbon frame?"}]


def test_the_page_counts_pairs_and_ratings_and_names_the_objective(tmp_path):
    project = Project.create(tmp_path, parse_config({"name": "bikes"}))
    ctx = StudioContext(project.root)
    assert "0 pairs" in signals_markdown(ctx) and "Nothing to train" in signals_markdown(ctx)
    store = open_project_store(project)
    for answer in ("No idea.", "Ask someone else."):
        record_feedback(store, messages=PROMPT, answer=answer, correction="Yes, with clip-on ones.", rating="down")
    record_feedback(store, messages=PROMPT, answer="Yes, clip-on ones fit.", rating="up")
    store.close()
    shown = signals_markdown(ctx)
    assert "2 pairs (a correction of a served answer), 0 corrections without the answer, 1 ratings" in shown
    assert "objective dpo (auto)" in shown
    assert "objective kto (feedback.objective)" in signals_markdown(ctx, "kto")
    assert improve_args(ctx, "kto") == ["--project", str(project.root), "--objective", "kto"]


def test_the_background_job_passes_the_objective_to_improve(tmp_path, monkeypatch):
    from tunesmith.feedback import improve as improve_module
    from tunesmith.feedback.improve import ImproveResult
    from tunesmith.studio import runner

    Project.create(tmp_path, parse_config({"name": "bikes"}))
    seen = {}

    def fake_improve(project, store=None, objective=None):
        seen.update(root=project.root, objective=objective)
        return ImproveResult("skipped", "nothing")

    monkeypatch.setattr(improve_module, "improve", fake_improve)
    assert runner.main(["improve", "--project", str(tmp_path), "--objective", "dpo"]) == 0
    assert seen == {"root": tmp_path, "objective": "dpo"}
