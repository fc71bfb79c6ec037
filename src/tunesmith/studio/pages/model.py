"""Model & settings: the catalog with estimates for this data, beginner presets, and every setting."""

from __future__ import annotations

import gradio as gr

from tunesmith.config import apply_overrides
from tunesmith.errors import TunesmithError
from tunesmith.models.catalog import CATALOG
from tunesmith.project import Project
from tunesmith.studio import controls, schema_form
from tunesmith.studio.context import StudioContext, reports_errors
from tunesmith.studio.estimate import estimate

# Named sets of overrides on top of the schema defaults, for people who do not want to pick numbers.
PRESETS = {
    "Quick try (minutes, to check everything works)": ["training.epochs=1", "training.max_steps=30",
                                                       "evaluation.max_examples=20"],
    "Standard (recommended)": ["training.max_steps=null"],
    "Careful (more passes, stops when it stops improving)": ["training.epochs=5", "training.max_steps=null",
                                                             "training.early_stopping_patience=3"],
}
CATALOG_HEADERS = ["model", "kind", "parameters (M)", "good for", "est. memory (GB)", "est. training time (min)"]


def train_tokens(ctx: StudioContext) -> int:
    """Tokens in the newest prepared training split (characters / 4 when the manifest has no count)."""
    versions = ctx.dataset_versions()
    if not versions:
        return 0
    from tunesmith.studio.context import api

    dataset = api("data", "load_prepared")(ctx.root / "data" / versions[0])
    stats = dataset.manifest.get("tokens", {}) if isinstance(dataset.manifest, dict) else {}
    if isinstance(stats, dict) and isinstance(stats.get("train"), (int, float)):
        return int(stats["train"])
    return sum(len(str(record)) for record in dataset.split("train")) // 4


def catalog_rows(ctx: StudioContext) -> list[list]:
    try:
        config = ctx.project().config
    except TunesmithError:
        config = None
    try:
        tokens = train_tokens(ctx)
    except Exception:  # no dataset API or no dataset yet: estimates need data
        tokens = 0
    rows = []
    for entry in CATALOG.values():
        training = config.training if config else None
        est = estimate(entry.parameters, entry.kind, tokens, training.epochs if training else 1,
                       training.batch_size if training else 8, config.model.max_length if config else 512)
        rows.append([entry.name, entry.kind, round(entry.parameters / 1e6, 1), entry.good_for,
                     round(est.peak_gb, 1), round(est.minutes, 1) if tokens else "prepare data first"])
    return rows


def build(ctx: StudioContext, demo: gr.Blocks, tab: gr.Tab) -> None:
    gr.Markdown("### Choose a model and how to train it")
    catalog = controls.with_caption(
        gr.Dataframe(headers=CATALOG_HEADERS, label="Model catalog", interactive=False, wrap=True),
        "Bundled models with a rough memory and time estimate for your prepared data on this computer.")
    model = controls.dropdown("Model", "A catalog name, or type the path of a local Hugging Face folder.",
                              choices=list(CATALOG), allow_custom_value=True,
                              elem_id="model-name")
    preset = controls.radio("Preset", "Ready-made training settings; pick one, then press 'Apply'.",
                            list(PRESETS), value="Standard (recommended)")
    apply = controls.button("Apply model and preset", "Saves the model and the preset's settings into "
                            "tunesmith.yaml.", variant="primary")
    status = controls.status_box()
    specs = schema_form.schema_fields()
    with gr.Accordion("Advanced: every setting", open=False):
        gr.Markdown("Generated from the configuration schema; each field's help text is its documentation.")
        fields = schema_form.build_settings_panel(specs)
        save = controls.button("Save all settings", "Validates every field and writes tunesmith.yaml; a wrong "
                               "value is named with what to do.", variant="primary")

    def refresh():
        rows = catalog_rows(ctx)
        try:
            config = ctx.project().config
        except TunesmithError:  # no project yet or a broken file: the catalog still shows
            return [rows, gr.skip(), *[gr.skip()] * len(fields)]
        return [rows, config.model.name, *schema_form.values_for(config, specs)]

    @reports_errors(2 + len(fields))
    def on_apply(model_name, preset_name):
        project = ctx.project()
        overrides = [f"model.name={model_name}", *PRESETS[preset_name]]
        project = Project(project.root, apply_overrides(project.config, overrides))
        project.save()
        return ["Saved model and preset.", catalog_rows(ctx), *schema_form.values_for(project.config, specs)]

    @reports_errors(2)
    def on_save(*values):
        project = ctx.project()
        project = Project(project.root, schema_form.config_from_values(specs, list(values)))
        project.save()
        return "Saved every setting to tunesmith.yaml.", catalog_rows(ctx)

    apply.click(on_apply, [model, preset], [status, catalog, *fields])
    save.click(on_save, fields, [status, catalog])
    demo.load(refresh, None, [catalog, model, *fields])
    tab.select(refresh, None, [catalog, model, *fields])
