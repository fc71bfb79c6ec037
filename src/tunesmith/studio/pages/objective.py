"""Objective: a short wizard (problem, users, output) that picks the task and a recipe and writes tunesmith.yaml."""

from __future__ import annotations

import gradio as gr

from tunesmith.config import ObjectiveConfig, ProjectConfig
from tunesmith.errors import TunesmithError
from tunesmith.models.catalog import CATALOG
from tunesmith.project import Project
from tunesmith.studio import cli_hint, controls
from tunesmith.studio.context import StudioContext, error_line, reports_errors

TASK_CHOICES = [
    ("Answer questions or chat in a certain way", "chat"),
    ("Sort texts into categories (labels)", "classification"),
    ("Learn the words and style of my documents", "text"),
    ("Find the right document for a question (search)", "embedding"),
]
MODEL_KIND_FOR_TASK = {"chat": "causal-lm", "text": "causal-lm", "classification": "encoder", "embedding": "encoder"}
METHOD_MEANING = "A way of fine-tuning that trains a small add-on instead of the whole model: fast and light on memory."
TASK_HELP = ("Pick the closest: answering questions (a chat model), sorting texts into your categories, writing "
             "like your documents, or finding the document that answers a question (search). The studio picks a "
             "model that fits.")
NO_PROJECT = ("**No project in this folder yet.** Answer the questions below and press **Write tunesmith.yaml** "
              "to start one.")


def _help(field: str) -> str:
    return ObjectiveConfig.model_fields[field].description or ""


def recommended_model(task: str) -> str:
    """The first catalog model made for this kind of task."""
    kind = MODEL_KIND_FOR_TASK[task]
    return next(name for name, entry in CATALOG.items() if entry.kind == kind)


def recipe_text(task: str) -> str:
    model = recommended_model(task or "chat")
    entry = CATALOG[model]
    method = ProjectConfig().method.name
    how = controls.term(method, METHOD_MEANING) if method in {"lora", "qlora", "dora"} else method
    return (f"**Recipe:** start from **{model}** ({entry.parameters / 1e6:.0f} M parameters, good for "
            f"{entry.good_for}), fine-tuned with **{how}**. You can change both on *Model & settings*.")


def init_command(ctx: StudioContext, task: str, description: str, users: str, expected: str) -> str:
    """`tunesmith init` with the answers typed so far, and `tunesmith config` to see every setting."""
    init = cli_hint.command("init", ctx.root, task=task or "chat", description=(description or "").strip() or None,
                            users=(users or "").strip() or None, expected_output=(expected or "").strip() or None)
    return cli_hint.markdown(init, cli_hint.command("config", ctx.root))


def project_state(ctx: StudioContext, config) -> str:
    task = dict((value, label) for label, value in TASK_CHOICES).get(config.objective.task, config.objective.task)
    return (f"**This folder already has a project:** *{config.name}*, {task.lower()}, starting from "
            f"**{config.model.name}**. Change the answers and press **Write tunesmith.yaml** to update it.")


def write_objective(ctx: StudioContext, name: str, task: str, description: str, users: str,
                    expected: str) -> Project:
    objective = ObjectiveConfig(task=task, description=description.strip(), users=users.strip(),
                                expected_output=expected.strip())
    if ctx.has_project():
        project = ctx.project()
        # Settings this page does not show (objective.system_prompt) keep their values.
        objective = project.config.objective.model_copy(update=objective.model_dump(
            include={"task", "description", "users", "expected_output"}))
        config = project.config.model_copy(update={"name": name.strip() or project.config.name,
                                                   "objective": objective})
        if config.objective.task != project.config.objective.task:
            config.model.name = recommended_model(task)
        project = Project(project.root, config)
        project.save()
        return project
    config = ProjectConfig(name=name.strip() or ProjectConfig().name, objective=objective)
    config.model.name = recommended_model(task)
    return Project.create(ctx.root, config)


def build(ctx: StudioContext, demo: gr.Blocks, tab: gr.Tab) -> None:
    gr.Markdown("### What should your model do?\nAnswer four questions; the studio picks a recipe and writes "
                "the project file `tunesmith.yaml`.")
    name = controls.textbox("Project name", ProjectConfig.model_fields["name"].description, value="my-project")
    task = controls.radio("What kind of problem is it?", TASK_HELP, TASK_CHOICES, value="chat")
    description = controls.textbox("What problem does it solve?", _help("description"), lines=2,
                                   placeholder="e.g. Answer customer questions about our bikes and policies.")
    users = controls.textbox("Who will use it?", _help("users"), placeholder="e.g. Customers on our support chat.")
    expected = controls.textbox("What does a good answer look like?", _help("expected_output"), lines=2,
                                placeholder="e.g. Two friendly sentences with the exact price or policy.")
    recipe = gr.Markdown(recipe_text("chat"))
    write = controls.button("Write tunesmith.yaml", "Saves your answers and the recipe into the project file "
                            "(keeps every other setting already there).", variant="primary")
    status = controls.status_box()
    preview = controls.with_caption(gr.Code(label="tunesmith.yaml", language="yaml", interactive=False,
                                            visible=False, elem_id="objective-yaml"),
                                    "The project file as saved (only your choices; `tunesmith config` shows every "
                                    "setting with its default). Every later page reads and edits it.")
    hint = cli_hint.hint_box("objective", init_command(ctx, "chat", "", "", ""))

    task.change(recipe_text, task, recipe)
    answers = [task, description, users, expected]
    for answer in answers:
        answer.change(lambda *values: init_command(ctx, *values), answers, hint, show_progress="hidden")

    @reports_errors(2)
    def on_write(name_v, task_v, description_v, users_v, expected_v):
        project = write_objective(ctx, name_v, task_v, description_v, users_v, expected_v)
        text = ctx.project_file.read_text(encoding="utf-8")
        return (f"Saved {project.root / 'tunesmith.yaml'}. Next: add your examples on the **Data** page.",
                gr.update(value=text, visible=True))

    write.click(on_write, [name, task, description, users, expected], [status, preview])

    def on_load():
        if not ctx.has_project():
            return [*[gr.skip()] * 6, gr.update(visible=False), NO_PROJECT, init_command(ctx, "chat", "", "", "")]
        try:
            config = ctx.project().config
        except TunesmithError as err:  # a broken file: say so, and what to do
            return [*[gr.skip()] * 7, error_line(err), gr.skip()]
        o = config.objective
        text = ctx.project_file.read_text(encoding="utf-8")  # the file itself: only what the user chose
        return (config.name, o.task, o.description, o.users, o.expected_output, recipe_text(o.task),
                gr.update(value=text, visible=True), project_state(ctx, config),
                init_command(ctx, o.task, o.description, o.users, o.expected_output))

    demo.load(on_load, None,
              [name, task, description, users, expected, recipe, preview, status, hint])
