"""A method is one self-contained module: options model, family and planner terms, found by discovery."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tunesmith.config import load_config, parse_config
from tunesmith.config.method import OPTIONS
from tunesmith.errors import ConfigError
from tunesmith.methods import Family, all_methods, get_method

OLD = Path(__file__).parent / "old_configs"  # written by the code before methods owned their options (1637fa4)


def test_yaml_stays_flat_and_round_trips_for_every_method():
    for method in all_methods():
        config = parse_config({"method": {"name": method.name}})
        assert type(config.method) is method.options
        dumped = config.model_dump(mode="json")["method"]
        assert next(iter(dumped)) == "name" and set(dumped) == {"name", *method.options.option_names()}
        assert parse_config({"method": dumped}) == config


def test_old_run_configs_still_load():
    sections = yaml.safe_load((OLD / "method_sections.yaml").read_text())
    assert set(sections) == set(OPTIONS)
    for name, section in sections.items():
        options = parse_config({"method": section}).method
        got = options.options()
        assert options.name == name and {k: got[k] for k in section if k != "name"} == \
            {k: v for k, v in section.items() if k != "name"}
        added = set(got) - set(section)  # options that came later read as their defaults
        assert all(got[k] == type(options).model_fields[k].default for k in added), added
    config = load_config(OLD / "config.yaml")
    assert (config.method.name, config.method.r, config.method.alpha) == ("dora", 4, 8)
    # The first schema dumped every method's options, each at its default: harmless, dropped.
    first = {"name": "lora", "r": 8, "alpha": 16, "dropout": 0.05, "target_modules": "all-linear",
             "num_virtual_tokens": 20, "prompt_init_text": None, "bottleneck_size": 64, "activation": "gelu",
             "model_dropout": None, "quant_type": "nf4", "quant_compute_dtype": "auto"}
    assert parse_config({"method": first}).method.options() == {"r": 8, "alpha": 16, "dropout": 0.05,
                                                                "target_modules": "all-linear"}


@pytest.mark.parametrize(("section", "message"), [
    ({"name": "lora", "rr": 8}, r"method: unknown key 'rr' in method\. Did you mean 'r'\?"),
    ({"name": "lorra"}, r"unknown method 'lorra'\. Did you mean 'lora'\?"),
    ({"name": "full", "r": 8},
     r"option\(s\) r do not apply to method 'full' \(its options: model_dropout, train_embeddings\)"),
    ({"name": "lora", "r": 0}, r"method\.r: Input should be greater than or equal to 1"),
    ({"name": "adapter", "activation": "swish"}, r"method\.activation: Input should be 'gelu'"),
    ({"name": "full", "train_embeddings": "maybe"},
     r"method\.train_embeddings: must be 'auto', true or false, got 'maybe'\. Fix"),  # one message, not two
])
def test_bad_method_sections_get_one_line(section, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"method": section})


def test_switching_method_drops_options_left_at_their_default():
    from tunesmith.config import ProjectConfig, apply_overrides

    assert apply_overrides(ProjectConfig(), ["method.name=full"]).method.name == "full"
    tuned = apply_overrides(ProjectConfig(), ["method.r=8"])
    with pytest.raises(ConfigError, match="r do not apply to method 'full'"):
        apply_overrides(tuned, ["method.name=full"])


def test_families_decide_what_the_rest_asks():
    families = {m.name: m.family for m in all_methods()}
    assert {n for n, f in families.items() if f is Family.SHARED_BASE} == {"lora", "dora", "qlora"}
    assert {n for n, f in families.items() if f is Family.VIRTUAL_TOKENS} == {"prefix", "prompt"}
    for method in all_methods():
        assert method.artifact == ("model" if method.family is Family.WHOLE_MODEL else "adapter")
        assert (method.base_only is None) == method.trains_base  # a frozen base is its own reference model
        assert (method.rank_options is not None) == ("r" in method.options.option_names())


def _run(code: str, *paths: Path) -> dict:
    src = Path(__file__).parents[2] / "src"
    prelude = "import tunesmith.methods as m\n" + "".join(f"m.__path__.append({str(p)!r})\n" for p in paths)
    result = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=120, env={"PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin"})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_reading_a_config_imports_no_torch():
    seen = _run("""
        import json, sys
        from tunesmith.config import parse_config
        parse_config({"method": {"name": "qlora"}})
        print(json.dumps({"torch": "torch" in sys.modules}))
    """)
    assert seen == {"torch": False}


TOY = '''
"""A toy method for the test: a scaling vector on every hidden state (as if inserted layers)."""
from typing import Literal
from pydantic import Field
from tunesmith.methods.registry import Costs, Family, Method, MethodOptions, register

class ToyOptions(MethodOptions):
    name: Literal["toy"] = Field("toy", description="A toy.")
    scale: int = Field(1, ge=1, description="Vectors per block.")

class ToyCosts(Costs):
    def trainable(self, shape, options):
        return options.scale * shape.layers * shape.hidden

METHOD = register(Method(name="toy", summary="toy", options=ToyOptions, family=Family.INSERTED,
                         apply=None, save=None, load=None, costs=ToyCosts()))
'''


def test_a_new_method_is_one_module(tmp_path):
    (tmp_path / "toy.py").write_text(TOY)
    seen = _run("""
        import json
        from tunesmith.config import parse_config
        from tunesmith.config.presets import preset_overrides
        from tunesmith.plan.shapes import shape_from_config
        from tunesmith.plan.trainable import trainable_params
        config = parse_config({"method": {"name": "toy", "scale": 3}})
        shape = shape_from_config({"architectures": ["LlamaForCausalLM"], "hidden_size": 8, "num_hidden_layers": 2})
        try:
            parse_config({"method": {"name": "toy", "scal": 3}})
        except Exception as err:
            message = str(err)
        print(json.dumps({"trainable": trainable_params(shape, config.method), "error": message,
                          "preset": preset_overrides("quick", 100, 2, "toy").get("method")}))
    """, tmp_path)
    assert seen["trainable"] == 3 * 2 * 8
    assert "Did you mean 'scale'" in seen["error"]
    assert seen["preset"] is None  # no rank: the preset leaves its options alone


def test_every_method_has_planner_terms(tiny_lm_dir):
    from tunesmith.plan.memory import StepShape, peak_memory
    from tunesmith.plan.shapes import model_shape
    from tunesmith.plan.speed import matmul_flops

    shape = model_shape(str(tiny_lm_dir))
    step = StepShape(2, 16, 8)
    frozen = matmul_flops(shape, get_method("prompt").options(), step)
    for method in all_methods():
        options = method.options()
        assert method.costs.trainable(shape, options) > 0
        assert peak_memory(shape, options, step, 1, shape.total_params, 0.0).peak > 0
        assert matmul_flops(shape, options, step) >= frozen, method.name
    assert matmul_flops(shape, get_method("full").options(), step) > matmul_flops(shape, get_method("lora").options(),
                                                                                  step)


def test_a_method_marked_peft_imports_it_and_the_others_never_do():
    """The planner charges a process that imports PEFT ~0.1 GB more (plan/calibrate.py): the flag must be true."""
    script = textwrap.dedent("""
        import sys
        from tunesmith.config.method import method_config
        from tunesmith.methods import all_methods, get_method
        from tunesmith.models.tiny import tiny_causal_lm

        for method in (m for m in all_methods() if not m.peft):
            method.apply(tiny_causal_lm()[0], method_config(name=method.name), "chat")
        print("peft" in sys.modules)
        get_method("lora").apply(tiny_causal_lm()[0], method_config(name="lora"), "chat")
        print("peft" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
    assert {m.name for m in all_methods() if not m.peft} == {"full", "adapter"}
