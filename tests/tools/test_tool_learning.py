"""Acceptance on a tiny model: fine-tuning on a synthetic tool set (training's renderer, evaluation's tool metrics)
raises tool-name accuracy, and the trained run, served, answers the `openai` client's tool requests with
tool_calls (the format training taught is the one serving parses)."""

from __future__ import annotations

import json
import random

import pytest

from tunesmith.config import parse_config
from tunesmith.config.evaluation import EvaluationConfig
from tunesmith.evaluate.compare import summarize
from tunesmith.evaluate.contenders import model_contender, score_chat
from tunesmith.evaluate.items import chat_items
from tunesmith.evaluate.stats import MCNEMAR, WILSON
from tunesmith.tools import parse, tools_of

# Parameterless tools: a 2-layer, hidden-64 model learns the call format in a few dozen steps; the words that
# decide the tool ("dark", "bright") appear only in the question, never in the tool list.
TOOLS = [{"type": "function", "function": {"name": name}} for name in ("lights_on", "lights_off")]
ROOMS = ["Paris", "Oslo", "Lima", "Rome", "Cairo", "Tokyo", "Quito", "Dakar", "Hanoi", "Bern", "Riga", "Sofia"]
ASKS = {"lights_on": ("In the {room} room it is dark", "The {room} room: dark", "{room}: dark"),
        "lights_off": ("In the {room} room it is bright", "The {room} room: bright", "{room}: bright")}
SETTINGS = EvaluationConfig(max_new_tokens=24, batch_size=16, perplexity=False, bootstrap_samples=200)


def conversations(count: int, seed: int) -> list[dict]:
    rng, records = random.Random(seed), []
    for i in range(count):
        tool = list(ASKS)[i % 2]
        question = rng.choice(ASKS[tool]).format(room=rng.choice(ROOMS))
        records.append({"id": f"s{seed}-{i}", "tools": TOOLS, "meta": {}, "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": "{}"}}]}]})
    return records


@pytest.fixture(scope="module")
def tool_run(tiny_lm_dir, tmp_path_factory):
    from tunesmith.train import run_training

    train = conversations(48, seed=1)
    config = parse_config({"model": {"name": str(tiny_lm_dir), "max_length": 256}, "method": {"name": "full"},
                           "training": {"max_steps": 70, "epochs": 20, "batch_size": 8, "learning_rate": 5e-3,
                                        "scheduler": "constant", "warmup_ratio": 0.0, "eval_every": 1000,
                                        "num_threads": 1}})
    folder = tmp_path_factory.mktemp("tool-run") / "lights"
    run_training(config, train, train[:4], folder)
    return folder


def test_tool_name_accuracy_rises_after_fine_tuning(tool_run, tiny_lm_dir):
    from tunesmith.models.loading import load_causal_lm, load_tokenizer
    from tunesmith.train import load_run

    items = chat_items(conversations(16, seed=2))
    base = score_chat(items, model_contender("base", load_causal_lm(str(tiny_lm_dir)),
                                             load_tokenizer(str(tiny_lm_dir)), SETTINGS), SETTINGS)
    loaded = load_run(tool_run)
    tuned = score_chat(items, model_contender("tuned", loaded.model, loaded.tokenizer, SETTINGS, kind="run"),
                       SETTINGS)
    comparison = summarize([base, tuned], items, "chat", SETTINGS)
    assert comparison.primary == "tool_call_accuracy"
    before, after = comparison.row("base").metrics, comparison.row("tuned").metrics
    assert before["tool_name_accuracy"].mean == 0.0 and before["tool_called_when_should"].mean == 0.0
    assert after["tool_called_when_should"].mean == 1.0, tuned.outputs
    assert after["tool_name_accuracy"].mean >= 0.4 and after["tool_schema_valid"].mean == 1.0, tuned.outputs
    assert after["tool_name_accuracy"].method == WILSON
    test = next(t for t in comparison.tests if t.metric == "tool_name_accuracy")
    assert test.significant and test.p_method == MCNEMAR and test.difference.n == len(items)
    assert tuned.details["tool_confusion"]["reference call"] == {"called": len(items), "answered": 0}


def test_the_served_run_answers_with_tool_calls(tool_run):
    import openai

    from tunesmith.config.serve import ServeConfig
    from tunesmith.inference import generate_chat
    from tunesmith.serve import create_app, serve_in_thread
    from tunesmith.train import load_run

    ask = [{"role": "user", "content": "The Oslo room: dark"}]
    loaded = load_run(tool_run)
    own = parse(generate_chat(loaded.model, loaded.tokenizer, [ask], [tools_of(TOOLS)], max_new_tokens=24)[0].text)
    assert own.calls, "the trained model writes a call block by itself"
    with serve_in_thread(create_app([str(tool_run)], ServeConfig())) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=60)
        reply = client.chat.completions.create(model=tool_run.name, messages=ask, tools=TOOLS, temperature=0,
                                               max_tokens=48)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == (own.calls[0].name, {})
