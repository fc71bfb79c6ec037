"""Model & settings: the catalog with estimates for this data, beginner presets, and every setting."""

from __future__ import annotations

import os

import gradio as gr

from tunesmith.config import ProjectConfig, apply_overrides, as_edit, choices, parse_config
from tunesmith.config.presets import PRESETS, merge, preset_overrides
from tunesmith.errors import TunesmithError
from tunesmith.models.catalog import CATALOG
from tunesmith.project import Project
from tunesmith.studio import cli_hint, controls, schema_form
from tunesmith.studio.context import StudioContext, api, error_line, reports_errors
from tunesmith.studio.pages.objective import MODEL_KIND_FOR_TASK

# The same presets as `tunesmith train --preset`, by the label the page shows.
PRESET_LABELS = {preset.label: name for name, preset in PRESETS.items()}
CATALOG_HEADERS = ["model", "kind", "parameters (M)", "license", "good for"]
ESTIMATE_HEADERS = ["model", "peak memory", "training time", "optimizer steps", "fits this computer"]


def catalog_rows() -> list[list]:
    return [[e.name, e.kind, round(e.parameters / 1e6, 1), e.license, e.good_for] for e in CATALOG.values()]


def estimate_rows(ctx: StudioContext, peers: bool = True, progress=None) -> list[list]:
    """The planner's memory and time prediction for this data, for the chosen model and its catalog peers."""
    from tunesmith.plan.report import duration, gigabytes

    project = ctx.project()
    versions = ctx.dataset_versions()
    if not versions:
        raise TunesmithError("estimates need your prepared data.", "Prepare a dataset on the Data page first.")
    records = api("data", "load_prepared")(ctx.root / "data" / versions[0]).split("train")
    kind = MODEL_KIND_FOR_TASK[project.config.objective.task]
    same_kind = [n for n, e in CATALOG.items() if e.kind == kind] if peers else []
    names = dict.fromkeys([project.config.model.name, *same_kind])
    rows = []
    for done, name in enumerate(names):
        if progress is not None:  # the first estimate may calibrate this machine: tens of seconds
            progress(done / len(names), desc=f"Estimating {name} ({done + 1} of {len(names)})")
        config = apply_overrides(project.config, [f"model.name={name}"])
        predicted = api("plan", "predict_for_run")(config, records)
        rows.append([name, gigabytes(predicted["peak_memory"]), duration(predicted["total_seconds"]),
                     predicted["total_steps"], "yes" if predicted["fits"] else "no: lower batch size or length"])
    return rows


def with_preset(ctx: StudioContext, config: ProjectConfig, name: str) -> ProjectConfig:
    """The config with preset `name`, sized from the newest prepared dataset and this machine."""
    versions = ctx.dataset_versions()
    if not versions:
        raise TunesmithError("presets are sized from your prepared data.", "Prepare a dataset on the Data page first.")
    examples = len(api("data", "load_prepared")(ctx.root / "data" / versions[0]).split("train"))
    extra = preset_overrides(name, examples, os.cpu_count() or 1, config.method.name)
    return parse_config(merge(choices(config), extra), f"preset {name}")  # the file keeps choices only


def save_settings(ctx: StudioContext, specs: list, values: list) -> Project:
    """Save the settings panel: the panel shows every setting, the file keeps the user's choices plus what the
    panel changed (config/choices.py), so untouched defaults stay defaults."""
    project = ctx.project()
    saved = Project(project.root, as_edit(project.config, schema_form.config_from_values(specs, list(values))))
    saved.save()
    return saved


def model_commands(ctx: StudioContext, model_name: str | None, preset_label: str | None) -> str:
    """Plan with the chosen model, then train with the chosen preset, as a terminal user would."""
    preset_name = PRESET_LABELS.get(preset_label or "", "balanced")
    chosen = f"model.name={model_name}" if model_name else None
    return cli_hint.markdown(cli_hint.command("plan", ctx.root, set=chosen),
                             cli_hint.command("train", ctx.root, preset=preset_name, set=chosen),
                             cli_hint.command("config", ctx.root))


def build(ctx: StudioContext, demo: gr.Blocks, tab: gr.Tab) -> None:
    gr.Markdown("### Choose a model and how to train it")
    controls.with_caption(
        gr.Dataframe(value=catalog_rows(), headers=CATALOG_HEADERS, label="Model catalog", interactive=False,
                     wrap=True), "Models that come with tunesmith; any local Hugging Face folder works too.")
    estimate = controls.button("Estimate memory and time for my data", "Predicts peak memory and training time "
                               "on this computer for the chosen settings (the first time it also "
                               "measures this computer: up to a minute).")
    estimates = controls.with_caption(
        gr.Dataframe(headers=ESTIMATE_HEADERS, label="Estimates for your data", interactive=False,
                     elem_id="estimates-table", visible=False),
        "From the planner: weights, optimizer state, activations and logits, timed with this machine's calibration.")
    model = controls.dropdown("Model", "A catalog name, or type the path of a local Hugging Face folder.",
                              choices=list(CATALOG), allow_custom_value=True,
                              elem_id="model-name")
    preset = controls.radio("Preset", "Ready-made training settings; pick one, then press 'Apply'.",
                            list(PRESET_LABELS), value=PRESETS["balanced"].label)
    apply = controls.button("Apply model and preset", "Saves the model and the preset's settings into "
                            "tunesmith.yaml.", variant="primary")
    status = controls.status_box()
    specs = schema_form.schema_fields()
    with gr.Accordion("Advanced: every setting", open=False):
        gr.Markdown("Generated from the configuration schema; each field's help text is its documentation.")
        fields = schema_form.build_settings_panel(specs)
        save = controls.button("Save all settings", "Validates every field and writes tunesmith.yaml; a wrong "
                               "value is named with what to do.", variant="primary")
    hint = cli_hint.hint_box("model", model_commands(ctx, None, PRESETS["balanced"].label))

    def refresh(preset_label):
        if not ctx.has_project():
            return [gr.skip(), "**No project yet.** Start on the **Objective** page; this page then shows the model "
                    "it picked and every setting.", gr.skip(), *[gr.skip()] * len(fields)]
        try:
            config = ctx.project().config
        except TunesmithError as err:  # a broken file: say what is wrong and what to do
            return [gr.skip(), error_line(err), gr.skip(), *[gr.skip()] * len(fields)]
        state = f"This project trains **{config.model.name}** with **{config.method.name}**."
        if not ctx.dataset_versions():
            state += " Presets and estimates are sized from your data: prepare it on the **Data** page first."
        return [config.model.name, state, model_commands(ctx, config.model.name, preset_label),
                *schema_form.values_for(config, specs)]

    @reports_errors(1 + len(fields))
    def on_apply(model_name, preset_name):
        project = ctx.project()
        config = apply_overrides(project.config, [f"model.name={model_name}"])
        project = Project(project.root, with_preset(ctx, config, PRESET_LABELS[preset_name]))
        project.save()
        return ["Saved model and preset.", *schema_form.values_for(project.config, specs)]

    @reports_errors(1)
    def on_save(*values):
        save_settings(ctx, specs, values)
        return ("Saved every setting: tunesmith.yaml keeps what you changed from the defaults "
                "(`tunesmith config` shows the rest).")

    @reports_errors(2)
    def on_estimate(progress=gr.Progress()):
        rows = estimate_rows(ctx, progress=progress)
        return "Estimated with the saved settings.", gr.update(value=rows, visible=True)

    apply.click(on_apply, [model, preset], [status, *fields])
    save.click(on_save, fields, status)
    estimate.click(on_estimate, None, [status, estimates])
    for choice in (model, preset):
        choice.change(lambda name, label: model_commands(ctx, name, label), [model, preset], hint,
                      show_progress="hidden")
    demo.load(refresh, preset, [model, status, hint, *fields])
    tab.select(refresh, preset, [model, status, hint, *fields])
