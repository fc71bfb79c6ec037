"""Acceptance: the real `openai` client creates a DPO job as OpenAI documents it (training lines with input,
preferred_output and non_preferred_output; method {"type": "dpo", "dpo": {"hyperparameters": {"beta": ...}}}),
the job succeeds with the real trainer on the tiny model, and the model serves."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest
from ft_helpers import wait_for
from test_openai_client import KEY, Server, finished, jsonl

from tunesmith.config import ProjectConfig
from tunesmith.project import Project
from tunesmith.runs import RunFolder

COLOURS = ["red", "blue", "green", "gold", "black", "white", "pink", "gray"]


def dpo_lines(n: int) -> bytes:
    """OpenAI's documented DPO line (tools and parallel_tool_calls included): polite answers preferred."""
    return "".join(json.dumps({
        "input": {"messages": [{"role": "user", "content": f"What colour is item {i}?"}], "tools": [],
                  "parallel_tool_calls": True},
        "preferred_output": [{"role": "assistant", "content": f"Item {i} is {COLOURS[i % 8]}. Thank you."}],
        "non_preferred_output": [{"role": "assistant", "content": f"Item {i} is {COLOURS[i % 8]}. Go away."}],
    }) + "\n" for i in range(n)).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_lm_dir):
    config = ProjectConfig.model_validate({
        "name": "openai-dpo", "model": {"max_length": 64}, "method": {"name": "lora", "r": 4, "alpha": 8},
        "training": {"batch_size": 4, "eval_every": 4, "learning_rate": 5e-3, "warmup_ratio": 0.0, "num_threads": 1},
        "serve": {"api_keys": [KEY], "default_max_tokens": 8},
        "finetune_api": {"model_map": {"gpt-4o-mini-2024-07-18": str(tiny_lm_dir)}, "evaluate": False},
    })
    project = Project.create(tmp_path_factory.mktemp("openai-dpo") / "project", config)
    running = Server(project.root, tiny_lm_dir).start()
    yield running
    running.stop()


def test_the_openai_client_runs_a_dpo_job_and_the_model_serves(server):
    client = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)
    training = client.files.create(file=("preferences.jsonl", dpo_lines(12)), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=training.id, method={
        "type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2, "n_epochs": 2}}})
    assert job.method.type == "dpo" and job.method.dpo.hyperparameters.beta == 0.2
    assert job.method.dpo.hyperparameters.batch_size == 4  # auto: the project's training.batch_size

    done = wait_for(lambda: finished(client, job.id), timeout=300, every=0.5)
    events = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data]
    assert done.status == "succeeded", events
    assert done.method.type == "dpo" and done.hyperparameters.n_epochs == 2
    spec = json.loads((server.root / "finetune" / "jobs" / job.id / "spec.json").read_text())
    run = RunFolder(Path(spec["run_dir"]))
    assert run.info().objective == "dpo" and run.config().preference.dpo.beta == 0.2

    answer = client.chat.completions.create(model=done.fine_tuned_model,
                                            messages=[{"role": "user", "content": "What colour is item 3?"}])
    assert isinstance(answer.choices[0].message.content, str) and answer.usage.completion_tokens > 0

    # a supervised file is no DPO data: the job fails while validating, saying why
    plain = client.files.create(file=("sft.jsonl", jsonl([("Hi?", "Hello.")] * 3)), purpose="fine-tune")
    wrong = client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=plain.id,
                                           method={"type": "dpo"})
    failed = wait_for(lambda: finished(client, wrong.id), timeout=120, every=0.5)
    assert failed.status == "failed" and failed.error.code == "invalid_file"
    assert "3 of 3 examples are not preference pairs" in failed.error.message
