"""distributed: deepspeed without deepspeed installed: the decisions and the config we would pass.

Nothing here runs DeepSpeed (it is not installed and needs GPUs); a stand-in module checks what
`deepspeed.initialize` would receive.
"""

import importlib.machinery
import json
import sys
import types

import pytest
import torch
from train_helpers import chat_records, tiny_config

from tunesmith.config import parse_config
from tunesmith.errors import ConfigError, TunesmithError
from tunesmith.train import run_training
from tunesmith.train.deepspeed_engine import DeepSpeedStrategy, merged_config, read_user_config, unavailable
from tunesmith.train.distributed import World


def _training(**options):
    return parse_config({"training": {"distributed": "deepspeed", "batch_size": 4, "gradient_accumulation": 2,
                                      "max_grad_norm": 0.5, **options}}).training


@pytest.mark.parametrize(("installed", "cuda", "names"), [
    (False, False, ["deepspeed package", "CUDA GPUs", "pip install deepspeed"]),
    (True, False, ["CUDA GPUs", "fsdp"]), (False, True, ["deepspeed package", "pip install deepspeed"])])
def test_unavailable_says_what_is_missing_and_what_to_do(installed, cuda, names):
    problem = unavailable(installed, cuda)
    text = str(problem)
    assert all(name in text for name in names), text
    assert unavailable(True, True) is None


def test_training_refuses_deepspeed_here_before_loading_the_model(tmp_path):
    config = tiny_config(tmp_path / "no-model-needed", "lora", distributed="deepspeed")
    with pytest.raises(TunesmithError, match="deepspeed"):
        run_training(config, chat_records(4), [], tmp_path / "run")


def test_merged_config_takes_batch_accumulation_and_clipping_from_training():
    user = {"zero_optimization": {"stage": 2, "offload_optimizer": {"device": "cpu"}}, "bf16": {"enabled": True},
            "train_micro_batch_size_per_gpu": "auto", "gradient_clipping": 0.5}
    merged = merged_config(user, _training(), world_size=4)
    assert merged == {**user, "train_micro_batch_size_per_gpu": 4, "gradient_accumulation_steps": 2,
                      "train_batch_size": 32, "gradient_clipping": 0.5}


@pytest.mark.parametrize(("user", "match"), [
    ({"train_micro_batch_size_per_gpu": 16}, "train_micro_batch_size_per_gpu is 16 there but 4 here"),
    ({"gradient_accumulation_steps": 8, "gradient_clipping": 1.0}, "gradient_accumulation_steps.*gradient_clipping"),
    ({"optimizer": {"type": "AdamW"}}, "optimizer"), ({"scheduler": {"type": "WarmupLR"}}, "scheduler"),
    ({"zero_optimization": {"stage": 3}}, "stage 3")])
def test_merged_config_refuses_what_would_disagree_with_tunesmith(user, match):
    with pytest.raises(ConfigError, match=match):
        merged_config(user, _training(), world_size=2)


def test_deepspeed_config_without_deepspeed_is_an_error():
    with pytest.raises(ConfigError, match=r"deepspeed_config is set but distributed is 'ddp'"):
        parse_config({"training": {"deepspeed_config": "ds.json"}})


def test_user_config_file_errors_name_the_file(tmp_path):
    assert read_user_config(None) == {}
    with pytest.raises(ConfigError, match="no file at"):
        read_user_config(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text('{"zero_optimization": {"stage": 2},\n}')
    with pytest.raises(ConfigError, match=r"bad.json:2: not valid JSON"):
        read_user_config(str(tmp_path / "bad.json"))


def test_initialize_gets_our_optimizer_and_the_merged_config(tmp_path, monkeypatch):
    seen = {}

    def initialize(model, optimizer, config):
        seen.update(model=model, optimizer=optimizer, config=config)
        return "engine", optimizer, None, None

    fake = types.ModuleType("deepspeed")
    fake.__spec__ = importlib.machinery.ModuleSpec("deepspeed", None)
    fake.initialize = initialize
    monkeypatch.setitem(sys.modules, "deepspeed", fake)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    (tmp_path / "ds.json").write_text(json.dumps({"zero_optimization": {"stage": 1}}))
    strategy = DeepSpeedStrategy(World(), _training(deepspeed_config=str(tmp_path / "ds.json")))
    strategy.device = torch.device("cpu")  # no GPU here; on a GPU machine this is cuda:LOCAL_RANK
    model = torch.nn.Linear(2, 2)
    _, optimizer = strategy.setup(model, lambda m: torch.optim.AdamW(m.parameters()))
    assert seen["model"] is model and seen["optimizer"] is optimizer and strategy.engine == "engine"
    assert seen["config"]["zero_optimization"] == {"stage": 1} and seen["config"]["train_batch_size"] == 8
    # DeepSpeed finds the step boundary by counting micro-batches: always `accumulation` of them.
    assert strategy.micro_batches([[0, 1]]) == [[0, 1], None] and not strategy.resumable
    assert strategy.rounds([[0, 1]]) == [[0, 1]]  # validation: forward passes are not collectives here
