"""The advanced settings panel is generated from the config schema and round-trips the config."""

from __future__ import annotations

import pytest

from tunesmith.config import ProjectConfig
from tunesmith.errors import ConfigError
from tunesmith.studio import build_studio, schema_form


def _schema_leaves(schema: dict, node: dict, prefix: str = "") -> dict[str, str]:
    """Dotted field paths with their descriptions, read from the JSON schema (an independent walk)."""
    leaves = {}
    for name, prop in node.get("properties", {}).items():
        target = prop
        refs = [prop, *prop.get("allOf", [])]
        ref = next((r["$ref"] for r in refs if "$ref" in r), None)
        if ref:
            target = schema["$defs"][ref.rsplit("/", 1)[-1]]
        if target.get("type") == "object" and "properties" in target:
            leaves.update(_schema_leaves(schema, target, f"{prefix}{name}."))
        else:
            leaves[f"{prefix}{name}"] = prop.get("description", "")
    return leaves


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    return build_studio(tmp_path_factory.mktemp("studio-project"))


def test_settings_panel_shows_every_schema_field_with_its_description(studio):
    panel = {c.ts_path: c for c in studio.blocks.values() if hasattr(c, "ts_path")}
    schema = ProjectConfig.model_json_schema()
    expected = _schema_leaves(schema, schema)
    assert set(panel) == set(expected)
    assert len(panel) > 30
    for path, description in expected.items():
        assert panel[path].info == (description or "(no description in the schema)"), path


def test_every_control_has_a_label_and_help_text(studio):
    import gradio as gr

    controls = (gr.Textbox, gr.Number, gr.Dropdown, gr.Radio, gr.Checkbox, gr.Slider, gr.Button, gr.File,
                gr.Chatbot, gr.Dataframe, gr.LinePlot, gr.HighlightedText, gr.Code)
    seen = 0
    for block in studio.blocks.values():
        if not isinstance(block, controls):
            continue
        seen += 1
        label = block.value if isinstance(block, gr.Button) else block.label
        assert label and str(label).strip(), f"{type(block).__name__} without a label"
        assert getattr(block, "ts_help", "").strip(), f"{type(block).__name__} '{label}' without help text"
    assert seen > 50


def test_panel_round_trips_and_rejects_bad_values(tmp_path):
    specs = schema_form.schema_fields()
    config = ProjectConfig(name="demo")
    config.training.learning_rate = 5e-4
    values = schema_form.values_for(config, specs)
    assert schema_form.config_from_values(specs, values) == config

    index = [s.path for s in specs].index("training.epochs")
    values[index] = 1.5
    assert schema_form.config_from_values(specs, values).training.epochs == 1.5
    values[index] = -1
    with pytest.raises(ConfigError, match=r"training\.epochs"):
        schema_form.config_from_values(specs, values)
