"""POST /v1/feedback and request logging through the middleware, on a minimal OpenAI-shaped app."""

from __future__ import annotations

import json

from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from sqlalchemy import select

from tunesmith.config import FeedbackConfig
from tunesmith.feedback import attach_feedback, open_store
from tunesmith.feedback.schema import Feedback, RequestLog


def echo_app(store, dependencies=()) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    def chat(body: dict):
        answer = "echo: " + body["messages"][-1]["content"]
        if body.get("stream"):
            def chunks():
                for word in answer.split(" "):
                    chunk = {"id": "chatcmpl-s", "model": "m", "choices": [{"delta": {"content": word + " "}}]}
                    yield f"data: {json.dumps(chunk)}\n\n"
                yield "data: [DONE]\n\n"
            return StreamingResponse(chunks(), media_type="text/event-stream")
        return {"id": f"chatcmpl-{len(body['messages'])}", "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}}]}

    return attach_feedback(app, store, dependencies)


def test_feedback_on_a_logged_response_becomes_training_material(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}", FeedbackConfig(log_requests=True))
    client = TestClient(echo_app(store))
    reply = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi, I'm a@b.co"}]})
    assert reply.status_code == 200
    answer = client.post("/v1/feedback", json={"response_id": reply.json()["id"], "rating": 2,
                                                "correction": "Hello! How can I help?"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["usable_for_training"] is True and answer.json()["score"] == 0.25
    with store.session() as session:
        logged = session.get(RequestLog, "chatcmpl-1")
        assert logged.messages == [{"role": "user", "content": "hi, I'm [EMAIL]"}]
        assert logged.response_text == "echo: hi, I'm [EMAIL]" and logged.latency_ms > 0
        assert session.scalars(select(Feedback)).one().messages == logged.messages


def test_streamed_answers_are_reassembled_in_the_log(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}", FeedbackConfig(log_requests=True))
    client = TestClient(echo_app(store))
    with client.stream("POST", "/v1/chat/completions",
                       json={"stream": True, "messages": [{"role": "user", "content": "two words"}]}) as reply:
        body = b"".join(reply.iter_bytes())
    assert body.count(b"data:") == 4
    with store.session() as session:
        assert session.get(RequestLog, "chatcmpl-s").response_text.strip() == "echo: two words"


def test_bad_feedback_gets_422_and_auth_dependencies_apply(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}", FeedbackConfig())

    def require_key(authorization: str = Header("")):
        if authorization != "Bearer k":
            raise HTTPException(401, "bad key")

    client = TestClient(echo_app(store, [Depends(require_key)]))
    assert client.post("/v1/feedback", json={"response_id": "x", "rating": "up"}).status_code == 401
    headers = {"Authorization": "Bearer k"}
    bad = client.post("/v1/feedback", json={"response_id": "x", "rating": 9}, headers=headers)
    assert bad.status_code == 422 and "1 to 5" in json.dumps(bad.json())
    unknown_field = client.post("/v1/feedback", json={"response_id": "x", "stars": 3}, headers=headers)
    assert unknown_field.status_code == 422
    # Logging is off here: a rating without a prompt is kept for monitoring but is not training material.
    ok = client.post("/v1/feedback", json={"response_id": "x", "rating": "up"}, headers=headers)
    assert ok.status_code == 201 and ok.json()["usable_for_training"] is False
    with store.session() as session:
        assert session.scalars(select(RequestLog)).all() == []


def test_real_server_with_feedback_attached_logs_and_guards_feedback(tmp_path, tiny_lm_dir):
    from tunesmith.config import ServeConfig
    from tunesmith.feedback.serving import attach_project_feedback
    from tunesmith.serve import create_app

    serve_settings = ServeConfig(api_keys=["k"], batch_window_ms=0)
    app = create_app([tiny_lm_dir], serve_settings)
    attach_project_feedback(app, tmp_path, FeedbackConfig(log_requests=True))
    headers = {"Authorization": "Bearer k"}
    with TestClient(app) as client:
        reply = client.post("/v1/chat/completions", headers=headers, json={
            "model": tiny_lm_dir.name, "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}]})
        assert reply.status_code == 200, reply.text
        rid = reply.json()["id"]
        assert client.post("/v1/feedback", json={"response_id": rid, "rating": "up"}).status_code == 401
        posted = client.post("/v1/feedback", headers=headers, json={"response_id": rid, "correction": "Hello!"})
        assert posted.status_code == 201 and posted.json()["usable_for_training"]
    store = app.state.feedback_store
    with store.session() as session:
        logged = session.get(RequestLog, rid)
        assert logged.messages == [{"role": "user", "content": "hi"}] and logged.completion_tokens == 3
        assert logged.response_text == reply.json()["choices"][0]["message"]["content"]
    assert store.url.endswith(f"{tmp_path}/tunesmith.db")
