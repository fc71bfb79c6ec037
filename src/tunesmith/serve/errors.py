"""OpenAI-style error bodies: {"error": {"message", "type", "param", "code"}} for every failure."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class APIError(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param
        self.headers = headers or {}


_ABSOLUTE = re.compile(r"(?<![\w.~/:-])/[^\s'\"`,;()\[\]{}<>]+")


def hide_paths(message: str) -> str:
    """`message` with this machine's absolute paths cut to `…/last-part`: an error body never tells a client
    where the server keeps its files (URL paths such as /v1/files do not exist on disk and stay)."""

    def cut(match: re.Match) -> str:
        text = match.group(0).rstrip(".")
        path = Path(text)
        if not any(known.exists() for known in (path, *path.parents) if len(known.parts) >= 3):
            return match.group(0)
        return "…/" + path.name + match.group(0)[len(text):]

    return _ABSOLUTE.sub(cut, message)


def sendable(text: str) -> str:
    """`text` with lone surrogates (echoed from a request's JSON escapes) written as `\\ud800`: the response
    is UTF-8, which cannot carry them."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": sendable(hide_paths(message)), "type": type_,
                      "param": None if param is None else sendable(param), "code": code}}


def error_response(status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
                   param: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(message, type_, code, param), status_code=status, headers=headers)


def _describe_validation(err: RequestValidationError) -> tuple[str, str | None, str]:
    first = err.errors()[0] if err.errors() else {}
    if first.get("type") == "json_invalid":
        return "The request body is not valid JSON.", None, "invalid_json"
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    if first.get("type") == "extra_forbidden":  # OpenAI's words for a field it does not know
        return f"Unrecognized request argument supplied: {param}", param, "unknown_parameter"
    message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    return (f"{param}: {message}" if param else message), param, "invalid_value"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(_: Request, err: APIError):
        return error_response(err.status, err.message, err.type, err.code, err.param, err.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, err: RequestValidationError):
        message, param, code = _describe_validation(err)
        return error_response(400, message, "invalid_request_error", code, param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, err: StarletteHTTPException):
        detail = err.detail if isinstance(err.detail, dict) else {"message": str(err.detail)}  # routes may give parts
        return error_response(err.status_code, str(detail.get("message") or err.detail),
                              detail.get("type", "invalid_request_error"), detail.get("code"), detail.get("param"),
                              err.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, err: Exception):
        return error_response(500, f"internal error: {type(err).__name__}", "server_error", "internal_error")
