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
        if "oneOf" in prop:  # a section chosen by name (method): `name`, then every member's options
            leaves.update(_union_leaves(schema, prop, f"{prefix}{name}."))
            continue
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


def _union_leaves(schema: dict, prop: dict, prefix: str) -> dict[str, str]:
    members = [schema["$defs"][ref["$ref"].rsplit("/", 1)[-1]] for ref in prop["oneOf"]]
    leaves = {f"{prefix}name": prop.get("description", "")}
    for member in members:
        for key, field in member["properties"].items():
            if key != "name":
                leaves.setdefault(f"{prefix}{key}", field.get("description", ""))
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
        assert description in panel[path].info, path  # union members: the help also says which methods
        assert panel[path].info.strip(), path


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
    values[index] = "1.5"  # a number-or-"auto" setting is a one-line box: what the user types is read as YAML
    assert schema_form.config_from_values(specs, values).training.epochs == 1.5
    values[index] = "auto"
    assert schema_form.config_from_values(specs, values).training.epochs == "auto"
    values[index] = "-1"
    with pytest.raises(ConfigError, match=r"training\.epochs"):
        schema_form.config_from_values(specs, values)


def test_panel_edits_the_chosen_methods_options():
    specs = schema_form.schema_fields()
    paths = [s.path for s in specs]
    assert {"method.name", "method.r", "method.model_dropout", "method.num_virtual_tokens"} <= set(paths)
    assert "(dora, lora, qlora)" in specs[paths.index("method.r")].description
    full = ProjectConfig.model_validate({"method": {"name": "full", "model_dropout": 0.1}})
    values = schema_form.values_for(full, specs)
    assert values[paths.index("method.r")] == 16  # another method's option shows its default
    assert schema_form.config_from_values(specs, values) == full
    values[paths.index("method.name")] = "lora"
    values[paths.index("method.model_dropout")] = None  # full's option back at its default
    lora = schema_form.config_from_values(specs, values)
    assert lora.method.name == "lora" and lora.method.r == 16
    values[paths.index("method.r")] = 4  # a LoRA rank on a full fine-tune: one line naming the option
    values[paths.index("method.name")] = "full"
    with pytest.raises(ConfigError, match="r do not apply to method 'full'"):
        schema_form.config_from_values(specs, values)


def test_no_checkbox_holds_a_value_it_cannot_show():
    """A checkbox shows None as unticked and saves False; for another method's option that is a non-default
    value the chosen method refuses (method.train_embeddings was `bool | None` once: the browser walkthrough's
    save failed on it)."""
    specs = schema_form.schema_fields()
    unshowable = [s.path for s in specs if s.kind == "bool" and (s.optional or s.default is None)
                  and s.path.startswith("method.")]
    assert unshowable == []
    lora = ProjectConfig.model_validate({"method": {"name": "lora"}})
    values = schema_form.values_for(lora, specs)
    ticked = [v if s.kind != "bool" else bool(v) for s, v in zip(specs, values, strict=True)]  # as a browser sends
    assert schema_form.config_from_values(specs, ticked) == lora
