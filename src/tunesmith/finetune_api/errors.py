"""Errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}` with a matching HTTP status.

`OpenAIErrorRoute` is installed as the router's route class, so every route answers in that shape (request
validation errors and `TunesmithError`s included) without relying on handlers of the app it is mounted in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from tunesmith.errors import TunesmithError

log = logging.getLogger(__name__)


class OpenAIError(Exception):
    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code
        self.headers = headers or {}

    def body(self) -> dict:
        from tunesmith.serve.errors import error_body

        return error_body(self.message, self.type, self.code, self.param)


def not_found(kind: str, object_id: str, param: str) -> OpenAIError:
    return OpenAIError(404, f"No such {kind}: '{object_id}'.", param=param, code="not_found")


def bad_request(message: str, param: str | None = None, code: str = "invalid_value") -> OpenAIError:
    return OpenAIError(400, message, param=param, code=code)


def _from_validation(err: RequestValidationError) -> OpenAIError:
    first = err.errors()[0] if err.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    param = ".".join(loc) or None
    return bad_request(f"Invalid value for '{param}': {first.get('msg', 'invalid request')}.", param,
                       code="invalid_request")


def as_openai_error(err: Exception) -> OpenAIError:
    if isinstance(err, OpenAIError):
        return err
    if isinstance(err, RequestValidationError):
        return _from_validation(err)
    if isinstance(err, TunesmithError):
        return bad_request(str(err), code="invalid_request")
    if isinstance(err, StarletteHTTPException) and err.status_code < 500:  # e.g. a multipart body that does not parse
        return OpenAIError(err.status_code, str(err.detail), code="invalid_request", headers=err.headers)
    if isinstance(getattr(err, "status", None), int) and isinstance(getattr(err, "message", None), str):
        # the host server's own API errors (its key check and rate limit run as this router's dependencies)
        return OpenAIError(err.status, err.message, type=getattr(err, "type", "invalid_request_error"),
                           param=getattr(err, "param", None), code=getattr(err, "code", None),
                           headers=getattr(err, "headers", None))
    log.exception("fine-tuning API failure")  # the details (paths included) go to the server log only
    return OpenAIError(500, f"Internal error: {type(err).__name__}. The server log has the details.",
                       type="server_error", code="internal_error")


class OpenAIErrorRoute(APIRoute):
    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def answer_errors_in_openai_shape(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as err:  # every failure leaves as a JSON error body, never an HTML trace
                failure = as_openai_error(err)
                return JSONResponse(failure.body(), status_code=failure.status, headers=failure.headers)

        return answer_errors_in_openai_shape
