"""Fuzz every route of a whole server (`build_server` over a tiny LM and a classifier, with a project's
feedback and fine-tuning API mounted, plus /v1/embeddings) with random requests: bodies that are random
JSON, wrong types, huge numbers, nested junk, any unicode, missing fields, raw bytes; random ids in paths
and random query strings. Property: never a 5xx, and every 4xx is an OpenAI-style error object.

Deterministic (derandomize); TUNESMITH_FUZZ_EXAMPLES=N runs N examples per property (the long mode,
results in bench/results/reliability.md). Jobs that pass validation run the fine-tuning API's fast stand-in
trainer (tests/finetune_api/fake_trainer.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("TUNESMITH_FUZZ_EXAMPLES", "0")) or 40
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
STAND_IN = Path(__file__).parents[1] / "finetune_api"
LM, CLASSIFIER, ENCODER, OPENAI_NAME = "lm", "intent-cls", "tiny-embed", "gpt-4o-mini"
TRAINING_LINE = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}


@pytest.fixture(scope="module")
def server(tiny_lm_dir, tiny_encoder_dir, tmp_path_factory):
    """(TestClient that returns 5xx instead of raising, ids of real files and jobs on it)."""
    import shutil

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from tunesmith.config import parse_config
    from tunesmith.project import Project
    from tunesmith.serve import build_server
    from tunesmith.serve.embeddings import attach_embeddings

    root = tmp_path_factory.mktemp("fuzz-server")
    shutil.copytree(tiny_lm_dir, root / LM)
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_encoder_dir, num_labels=2, id2label={0: "billing", 1: "technical"},
        label2id={"billing": 0, "technical": 1})
    model.save_pretrained(root / CLASSIFIER, safe_serialization=True)
    AutoTokenizer.from_pretrained(tiny_encoder_dir).save_pretrained(root / CLASSIFIER)
    project = Project.create(root / "project", parse_config({
        "name": "fuzz", "model": {"name": str(root / LM)},
        "serve": {"batch_window_ms": 0, "max_tokens_limit": 4, "default_max_tokens": 2, "max_body_bytes": 65536},
        "finetune_api": {"evaluate": False, "max_file_mb": 0.05, "max_queued_jobs": 3,
                         "model_map": {OPENAI_NAME: str(root / LM)}}}))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(STAND_IN), os.environ.get("PYTHONPATH")])))
        built = build_server([root / LM, root / CLASSIFIER], project=project, finetune_options={
            "trainer": "fake_trainer:run_training", "evaluator": None, "use_launcher": False, "poll_seconds": 0.05})
        attach_embeddings(built.app, {ENCODER: str(tiny_encoder_dir)})
        with TestClient(built.app, raise_server_exceptions=False) as client:
            upload = client.post("/v1/files", data={"purpose": "fine-tune"},
                                 files={"file": ("train.jsonl", (json.dumps(TRAINING_LINE) + "\n").encode())})
            file_id = upload.json()["id"]
            job = client.post("/v1/fine_tuning/jobs", json={"model": OPENAI_NAME, "training_file": file_id}).json()
            yield client, {"file": [file_id], "job": [job["id"]]}


def check(response) -> None:
    """Never a server error; a refusal is `{"error": {"message", "type", "param", "code"}}`."""
    status = response.status_code
    event(f"HTTP {status}")  # --hypothesis-show-statistics: how often requests got through
    assert status < 500, (status, response.text[:1000])
    if status >= 400:
        body = response.json()
        assert isinstance(body, dict) and set(body) == {"error"}, body
        error = body["error"]
        assert {"message", "type", "param", "code"} <= set(error), error
        assert isinstance(error["message"], str) and error["message"] and isinstance(error["type"], str), error
        assert not error["message"].startswith("{"), error  # a message, not the repr of an object


def post_json(client, path: str, payload):
    """As a client that writes NaN and Infinity (Python's json does; httpx's `json=` refuses to)."""
    return client.post(path, content=json.dumps(payload), headers={"Content-Type": "application/json"})


# --- strategies --------------------------------------------------------------------------------------------
# Any unicode, and now and then a lone surrogate: JSON may carry "\\ud800", which no UTF-8 encoder takes.
with_surrogates = st.lists(st.characters() | st.characters(codec=None, categories=["Cs"]), max_size=8).map("".join)
strings = st.one_of(st.text(max_size=30), st.text(max_size=30), st.text(max_size=30), with_surrogates)
huge = st.integers(min_value=2**63 - 2, max_value=2**80) | st.integers(max_value=-(2**63) + 2, min_value=-(2**80))
scalars = st.none() | st.booleans() | st.integers() | huge | st.floats() | strings
junk = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(strings, inner, max_size=4), max_leaves=12)


def either(valid):
    return st.one_of(valid, junk)


def body(required: dict, optional: dict | None = None, valid=None):
    """JSON objects with these fields (each plausible or junk), some fields left out, sometimes extra keys;
    a `valid` request now and then, so that some get through to the model; and now and then no object."""
    fields = {**required, **(optional or {})}
    complete = st.fixed_dictionaries({k: either(v) for k, v in required.items()},
                                     optional={k: either(v) for k, v in (optional or {}).items()})
    partial = st.fixed_dictionaries({}, optional={k: either(v) for k, v in fields.items()})
    extra = st.dictionaries(strings, junk, max_size=2)
    fuzzed = st.tuples(st.one_of(complete, partial), extra).map(lambda p: {**p[1], **p[0]})
    if valid is None:
        return st.one_of(fuzzed, junk)
    # a valid request with one field replaced by junk: type confusion one parameter at a time
    one_wrong = st.tuples(valid, st.sampled_from(sorted(fields)), junk).map(lambda v: {**v[0], v[1]: v[2]})
    return st.one_of(valid, one_wrong, fuzzed, junk)


texts = strings
words = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)  # any text a tokenizer takes
small = st.integers(min_value=-1, max_value=6)
unit = st.floats(min_value=0, max_value=2) | st.sampled_from([0.0, 1e-300, 1.0, 2.0, -0.0, 2.0000001])
roles = st.sampled_from(["user", "assistant", "system", "developer", "tool", "User", ""])
content = st.one_of(texts, st.lists(st.fixed_dictionaries({"type": either(st.just("text")), "text": either(texts)}),
                                    max_size=3))
messages = st.lists(st.fixed_dictionaries({"role": either(roles), "content": either(content)}), max_size=4)
generation = {"max_tokens": small, "temperature": unit, "top_p": unit, "stop": st.one_of(texts, st.lists(texts)),
              "seed": st.one_of(st.integers(), huge), "stream": st.booleans(), "n": small,
              "stream_options": st.fixed_dictionaries({"include_usage": either(st.booleans())})}
valid_generation = {"max_tokens": st.integers(1, 4), "temperature": st.floats(0, 2), "top_p": st.floats(1e-6, 1),
                    "stop": st.lists(words, max_size=4), "seed": st.integers(-(2**63), 2**63 - 1),
                    "stream": st.booleans(), "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()})}
valid_messages = st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "assistant"]),
                                                 "content": words}), min_size=1, max_size=3)
models = st.sampled_from([LM, CLASSIFIER, ENCODER, OPENAI_NAME, "", "nope"]) | texts
chat = body({"model": models, "messages": messages},
            {**generation, "logprobs": st.booleans(), "top_logprobs": small, "max_completion_tokens": small},
            valid=st.fixed_dictionaries({"model": st.just(LM), "messages": valid_messages}, optional={
                **valid_generation, "logprobs": st.just(True), "top_logprobs": st.integers(0, 20)}))
completion = body({"model": models, "prompt": st.one_of(texts, st.lists(texts, max_size=2))},
                  {**generation, "logprobs": small, "echo": st.booleans()},
                  valid=st.fixed_dictionaries({"model": st.just(LM), "prompt": words},
                                              optional={**valid_generation, "logprobs": st.integers(0, 5)}))
classification = body({"model": models, "input": st.one_of(texts, st.lists(texts, max_size=3))},
                      valid=st.fixed_dictionaries({"model": st.just(CLASSIFIER),
                                                   "input": words | st.lists(words, min_size=1, max_size=3)}))
embedding = body({"model": models, "input": st.one_of(texts, st.lists(texts, max_size=3), st.lists(small))},
                 {"encoding_format": st.sampled_from(["float", "base64", "int8"]), "dimensions": small,
                  "user": texts},
                 valid=st.fixed_dictionaries({"model": st.just(ENCODER),
                                              "input": words | st.lists(words, min_size=1, max_size=3)},
                                             optional={"encoding_format": st.sampled_from(["float", "base64"])}))
feedback = body({}, {"response_id": texts, "rating": st.one_of(st.sampled_from(["up", "down"]), small),
                     "correction": texts, "label": texts, "comment": texts, "messages": messages},
                valid=st.fixed_dictionaries({"rating": st.sampled_from(["up", "down", 1, 5])},
                                            optional={"comment": words, "messages": valid_messages,
                                                      "correction": words}))
POSTS = {"/v1/chat/completions": chat, "/v1/completions": completion, "/v1/classifications": classification,
         "/v1/embeddings": embedding, "/v1/feedback": feedback}


def ids(kind: str):
    """A real id of this kind (filled in from the fixture at draw time), a look-alike, or any text."""
    return st.one_of(st.just(kind), st.text(max_size=30), st.sampled_from(["file-", "ftjob-", "..", ".", "%00"]))


queries = st.dictionaries(st.sampled_from(["after", "limit", "order", "purpose", "format", "metadata",
                                           "metadata[k]", "metadata[\"]", "metadata[$]", "metadata[]"])
                          | st.text(max_size=10), st.text(max_size=20) | small.map(str), max_size=3)
GETS = ["/v1/models", "/metrics", "/health", "/v1/files", "/v1/fine_tuning/jobs", "/openapi.json"]
BY_ID = [("GET", "/v1/files/{file}"), ("GET", "/v1/files/{file}/content"), ("DELETE", "/v1/files/{file}"),
         ("GET", "/v1/fine_tuning/jobs/{job}"), ("POST", "/v1/fine_tuning/jobs/{job}/cancel"),
         ("POST", "/v1/fine_tuning/jobs/{job}/pause"), ("POST", "/v1/fine_tuning/jobs/{job}/resume"),
         ("GET", "/v1/fine_tuning/jobs/{job}/events"), ("GET", "/v1/fine_tuning/jobs/{job}/checkpoints"),
         ("GET", "/v1/fine_tuning/jobs/{job}/report"), ("GET", "/v1/fine_tuning/jobs/{job}/export")]


# --- properties --------------------------------------------------------------------------------------------
@FUZZ
@given(st.sampled_from(sorted(POSTS)).flatmap(lambda path: st.tuples(st.just(path), POSTS[path])))
@example(("/v1/chat/completions", {"model": LM, "messages": [{"role": "user", "content": "hi"}], "seed": 2**64}))
# logits / 9e-164 overflowed to inf, softmax gave NaN: IndexError (500) when sampling
@example(("/v1/chat/completions", {"model": LM, "messages": [{"role": "user", "content": "0"}],
                                   "temperature": 9.134735459516657e-164}))
@example(("/v1/completions", {"model": LM, "prompt": "0", "temperature": 5e-324, "stream": True}))
def test_json_bodies_never_get_a_server_error(server, route_and_body):
    client, _ = server
    path, payload = route_and_body
    check(post_json(client, path, payload))


@FUZZ
@given(st.sampled_from([*sorted(POSTS), "/v1/fine_tuning/jobs", "/v1/files"]),
       st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
       st.sampled_from(["application/json", "text/plain", "multipart/form-data", "application/x-www-form-urlencoded",
                        "multipart/form-data; boundary=x"]))
@example("/v1/chat/completions", b'{"model": "lm", "messages": [{"role": "user", "content": "\\ud800"}]}',
         "application/json")
@example("/v1/completions", b'{"model": "lm", "prompt": "hi", "max_tokens": NaN}', "application/json")
@example("/v1/files", b"", "multipart/form-data")  # FastAPI's HTTPException from the multipart parser: 500
@example("/v1/files", b'--x\r\nContent-Disposition: form-data; name="file"; filename="\xff\xfe.jsonl"\r\n\r\n{}\r\n'
         b'--x\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-\xfftune\r\n--x--\r\n',
         "multipart/form-data; boundary=x")
@example("/v1/embeddings", b'{"model": "tiny-embed", "input": ["\\udfff"]}', "application/json")
@example("/v1/classifications", b'{"model": "intent-cls", "input": "\\ud800"}', "application/json")
@example("/v1/feedback", b'{"response_id": "\\ud800", "rating": "up", "comment": "\\udc00"}', "application/json")
def test_raw_bodies_never_get_a_server_error(server, path, raw, content_type):
    client, _ = server
    check(client.post(path, content=raw, headers={"Content-Type": content_type}))


valid_hyperparameters = st.fixed_dictionaries({}, optional={
    "n_epochs": st.integers(1, 50) | st.just("auto"), "batch_size": st.integers(1, 256) | st.just("auto"),
    "learning_rate_multiplier": st.floats(1e-3, 100.0) | st.just("auto")})
job = body({"model": st.sampled_from([OPENAI_NAME, LM, "nope"]) | texts, "training_file": ids("file")},
           {"validation_file": ids("file"), "suffix": texts, "seed": st.one_of(st.integers(), huge),
            "metadata": st.dictionaries(texts, texts | junk, max_size=3),
            "hyperparameters": st.dictionaries(st.sampled_from(["n_epochs", "batch_size", "learning_rate_multiplier"])
                                               | texts, st.sampled_from(["auto"]) | junk, max_size=3),
            "method": st.fixed_dictionaries({"type": st.sampled_from(["supervised", "dpo"]) | texts},
                                            optional={"supervised": junk})},
           valid=st.fixed_dictionaries({"model": st.just(OPENAI_NAME), "training_file": st.just("file")}, optional={
               "suffix": st.from_regex(r"[a-z0-9._-]{1,8}", fullmatch=True), "seed": st.integers(0, 2**32 - 1),
               "metadata": st.dictionaries(words, words, max_size=2),
               "method": st.fixed_dictionaries({"type": st.just("supervised"), "supervised": st.fixed_dictionaries(
                   {"hyperparameters": valid_hyperparameters})})}))


@FUZZ
@given(job)
@example({"model": "\ud800", "training_file": "file"})  # UnicodeEncodeError in the job store: 500
@example({"model": OPENAI_NAME, "training_file": "file", "hyperparameters": 1})  # TypeError: 500
@example({"model": OPENAI_NAME, "training_file": "file", "validation_file": [None]})  # sqlite ProgrammingError
@example({"model": OPENAI_NAME, "training_file": "file", "suffix": []})  # TypeError in the suffix pattern
@example({"model": OPENAI_NAME, "training_file": "file", "method": {"type": "supervised", "supervised": []}})
@example({"model": OPENAI_NAME, "training_file": "file", "hyperparameters": {"n_epochs": float("nan")}})
@example({"model": OPENAI_NAME, "training_file": "file", "hyperparameters": {"batch_size": float("inf")}})
def test_job_requests_never_get_a_server_error(server, payload):
    client, real = server
    if isinstance(payload, dict):
        payload = {k: (real[v][0] if isinstance(v, str) and v in real else v) for k, v in payload.items()}
    check(post_json(client, "/v1/fine_tuning/jobs", payload))


chat_lines = st.lists(st.fixed_dictionaries({"messages": messages}) | junk, min_size=1, max_size=3).map(
    lambda rows: "\n".join(json.dumps(row) for row in rows).encode("utf-8", "surrogatepass"))
valid_lines = st.lists(st.fixed_dictionaries({"messages": valid_messages}), min_size=1, max_size=3).map(
    lambda rows: "".join(json.dumps(row) + "\n" for row in rows).encode())
uploads = st.one_of(st.tuples(st.text(max_size=40), st.binary(max_size=300) | chat_lines,
                              st.sampled_from(["fine-tune", "batch", "", "FINE-TUNE"]) | st.text(max_size=30)),
                    st.tuples(st.sampled_from(["train.jsonl", "t.csv", "x"]), valid_lines, st.just("fine-tune")))


@FUZZ
@given(uploads)
@example(("train.jsonl", json.dumps(TRAINING_LINE).encode() + b"\n\xff\xfe", "fine-tune"))
def test_uploads_never_get_a_server_error(server, upload):
    client, _ = server
    filename, content, purpose = upload
    check(client.post("/v1/files", data={"purpose": purpose}, files={"file": (filename, content)}))


@FUZZ
@given(st.sampled_from(BY_ID), ids("file"), ids("job"), queries)
@example(("GET", "/v1/fine_tuning/jobs/{job}/events"), "file", "job", {"limit": "1e9"})
def test_ids_and_queries_never_get_a_server_error(server, route, file_id, job_id, query):
    client, real = server
    method, template = route
    path = template.format(file=quote(real.get(file_id, [file_id])[0], safe=""),
                           job=quote(real.get(job_id, [job_id])[0], safe=""))
    check(client.request(method, path, params=query))


@FUZZ
@given(st.sampled_from(GETS), queries)
@example("/v1/fine_tuning/jobs", {"metadata[\"]": "x"})
@example("/v1/fine_tuning/jobs", {"metadata[$]": "x"})
def test_listings_never_get_a_server_error(server, path, query):
    client, _ = server
    check(client.get(path, params=query))
