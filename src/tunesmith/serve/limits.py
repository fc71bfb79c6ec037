"""Request body size limit as plain ASGI middleware: oversized bodies are refused before any parsing."""

from __future__ import annotations

import json


def _reply(status: int, message: str, code: str):
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None,
                                 "code": code}}).encode()

    async def send_response(send):
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return send_response


class BodySizeLimit:
    """`max_bytes` for every request, or `per_path[path]` (the fine-tuning API's uploads get their own limit);
    `per_path` is read on each request, so a router mounted later can add its entry."""

    def __init__(self, app, max_bytes: int, per_path: dict[str, int] | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = per_path if per_path is not None else {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.per_path.get(scope.get("path"), self.max_bytes)
        message = f"The request body is larger than {limit} bytes."
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await _reply(413, message, "request_too_large")(send)
        # Read the (bounded) body up front, so an oversized one never reaches the JSON parser.
        chunks, seen = [], 0
        while True:
            event = await receive()
            if event["type"] != "http.request":
                return  # the client went away
            chunks.append(event.get("body", b""))
            seen += len(chunks[-1])
            if seen > limit:
                return await _reply(413, message, "request_too_large")(send)
            if not event.get("more_body", False):
                break
        body, delivered = b"".join(chunks), False

        async def replay():
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
