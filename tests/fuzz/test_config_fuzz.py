"""Fuzz `--set key=value` (config.apply_overrides): keys from the real schema and random ones, values of every
YAML shape (numbers, inf/nan, lists, mappings, dates, broken YAML, any unicode). Property: a one-line
TunesmithError, or a valid config that survives being saved and loaded again unchanged.

Deterministic (derandomize); TUNESMITH_FUZZ_EXAMPLES=N runs N examples per property (the long mode,
results in bench/results/reliability.md).
"""

from __future__ import annotations

import json
import os

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tunesmith.config import ProjectConfig, apply_overrides, choices, parse_config
from tunesmith.errors import TunesmithError
from tunesmith.methods import all_methods

EXAMPLES = int(os.environ.get("TUNESMITH_FUZZ_EXAMPLES", "0")) or 300
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def dotted_keys(data: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, value in data.items():
        keys.append(prefix + key)
        if isinstance(value, dict):
            keys += dotted_keys(value, prefix + key + ".")
    return keys


def schema_keys() -> list[str]:
    """Every setting of the default config, plus each method's own options (method.<option>)."""
    keys = set(dotted_keys(ProjectConfig().model_dump(mode="json")))
    for name in (m.name for m in all_methods()):
        switched = apply_overrides(ProjectConfig(), [f"method.name={name}"])
        keys |= set(dotted_keys(switched.model_dump(mode="json")))
    return sorted(keys)


SCHEMA_KEYS = schema_keys()
YAML_TOKENS = [".inf", "-.inf", ".nan", ".NaN", "1e400", "-1e400", "1.0e+400", "nan", "inf", "null", "~", "",
               "true", "no", "on", "0x1F", "0o17", "1_000", "2020-01-01", "2020-01-01T10:00:00", "[", "]", "{",
               "{a: 1}", "[1, 2]", "[[]]", "- a\n- b", "a: b: c", "'", '"', "!!python/object:os.system", "&a [*a]",
               "*undefined", "%YAML 1.1", "---", "? a", "\t", "9" * 400, "-9" * 200, "1e-400", "0", "-1", "lora",
               "full", "chat", "classification", "sft", "dpo"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8)
values = st.one_of(st.sampled_from(YAML_TOKENS), st.text(max_size=30), st.integers().map(str),
                   st.floats().map(repr), json_values.map(json.dumps))
keys = st.one_of(st.sampled_from(SCHEMA_KEYS), st.sampled_from(SCHEMA_KEYS).map(lambda k: k + ".x"),
                 st.text(max_size=20), st.lists(st.sampled_from(["", "a", "model", "name", "0", " "]),
                                                min_size=1, max_size=4).map(".".join))
overrides = st.lists(st.one_of(st.tuples(keys, values).map("=".join), st.text(max_size=30)), min_size=1,
                     max_size=3)


def round_trip(config: ProjectConfig) -> ProjectConfig:
    """What `save_config` (the user's choices only) then `load_config` give back, without the disk."""
    text = yaml.safe_dump(choices(config), sort_keys=False, allow_unicode=True)
    return parse_config(yaml.safe_load(text), "saved config")


def check(items: list[str]) -> None:
    try:
        config = apply_overrides(ProjectConfig(), items)
    except TunesmithError as err:
        message = str(err)
        assert message.strip() and len(message.splitlines()) == 1, message
        return
    assert round_trip(config) == config


# Defects the fuzzer found, kept as examples: each raised something other than a one-line TunesmithError.
@FUZZ
@given(overrides)
@example(["training.epochs=["])  # yaml.ParserError
@example(["evaluation.baselines=\t"])  # yaml.ScannerError
@example(["name=\x10"])  # yaml.ReaderError (control character)
@example(["name=*undefined"])  # yaml.ComposerError
@example(["name=!!python/object:os.system"])  # yaml.ConstructorError
@example(["training.\nlearning_rate=1"])  # an unknown key echoed with its line break
@example(["two\nlines"])  # not key=value, echoed with its line break
@example(["finetune_api.model_map={\"a\\u2028b\": 1}"])  # a Unicode line separator in a mapping key
@example(["data={\"\\uD800\"}"])  # a lone surrogate: pydantic raised UnicodeEncodeError
@example(["name=\udcff"])  # a command-line byte that is not UTF-8 (surrogateescape)
@example(["method.name={a: 1}"])  # TypeError: unhashable method name
@example(["method.name=[1, 2]"])
@example(["training.learning_rate=.nan"])
@example(["training.max_grad_norm=.inf"])
@example(["model.name=2020-01-01"])
def test_set_gives_a_one_line_error_or_a_config_that_saves_and_loads(items):
    check(items)


@FUZZ
@given(st.sampled_from(SCHEMA_KEYS), values)
def test_every_schema_key_takes_any_value_safely(key, value):
    check([f"{key}={value}"])
