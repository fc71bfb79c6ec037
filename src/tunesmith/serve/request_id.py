"""`x-request-id` on every response (OpenAI's header; the SDK exposes it as `response._request_id`)."""

from __future__ import annotations

import re
import uuid

_SANE = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


class RequestId:
    """ASGI middleware: echo the client's `x-request-id` when it is a plain token, else make one (`req_...`)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"")
        request_id = given if _SANE.match(given) else f"req_{uuid.uuid4().hex}".encode()
        scope.setdefault("state", {})["request_id"] = request_id.decode()

        async def tagged(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers") or [] if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id)]}
            await send(message)

        await self.app(scope, receive, tagged)
