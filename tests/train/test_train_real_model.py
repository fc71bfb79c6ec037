"""One short run on the bundled model: the real tokenizer, weights and chat template end to end."""

import pytest
from train_helpers import tiny_config

from tunesmith.inference import generate_chat
from tunesmith.quickstart.dataset import support_examples
from tunesmith.train import load_run, run_training


@pytest.mark.slow
def test_lora_on_bundled_model_trains_and_generates(tmp_path):
    records = [{"messages": r["messages"]} for r in support_examples()]
    config = tiny_config("smollm2-135m-instruct", "lora", max_steps=3, eval_every=3, batch_size=4,
                         learning_rate=1e-3)
    result = run_training(config, records[:12], records[12:16], tmp_path / "run")
    assert result.status == "completed" and result.metrics["val_loss"] < 5
    loaded = load_run(tmp_path / "run")
    (answer,) = generate_chat(loaded.model, loaded.tokenizer, [records[20]["messages"][:2]], max_new_tokens=8)
    assert answer.completion_tokens > 0
