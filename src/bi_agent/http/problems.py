"""Errors as problem details (RFC 9457), the one error shape of both HTTP services.

Every BIAgentError maps to its status here; request validation becomes 422 with
each bad field's location; an outage of PostgreSQL, Redis or S3 (infra/outages.py)
becomes a 503 with Retry-After; anything unexpected becomes a 500 that says nothing
about its cause (the log has it, with the trace id, retold without its values by
ValueFreeErrors).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from bi_agent.errors import AuthenticationError, BIAgentError, ErrorItem
from bi_agent.infra import error_text, outages

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    """Problem details (RFC 9457): the one error reply of both services."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = Field(description="What went wrong and where: the field, the file's line and column, the route")
    errors: list[ErrorItem] = []


# The statuses any route of both services may answer with, besides its own success: each as
# problem details. Declared once here, so /openapi.json lists them on every route.
ERROR_STATUSES = {
    400: "Malformed request",
    401: "Not authenticated: no token, or a bad or expired one",
    403: "Permission denied, or a purpose of use is missing",
    404: "No such route or resource",
    405: "Method not allowed",
    408: "The request's headers or body came too slowly",
    409: "Conflicts with what exists",
    413: "The body is larger than the route takes",
    422: "Invalid input; `detail` and `errors` say what and where",
    429: "Too many requests; Retry-After says when to try again",
    500: "Internal error; the server log has details",
    503: "A dependency is down; Retry-After says when to try again",
}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": description, "content": {PROBLEM_MEDIA_TYPE: {}}}
    for status, description in ERROR_STATUSES.items()
}


def problem(status: int, title: str, detail: str, errors: Sequence[ErrorItem] = ()) -> JSONResponse:
    body = Problem(title=title, status=status, detail=detail, errors=list(errors))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_MEDIA_TYPE)


async def _bi_agent_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, BIAgentError)
    if error.status_code >= 500:
        logger.error("%s on %s %s: %s", type(error).__name__, request.method, request.url.path, error)
    response = problem(error.status_code, error.title, str(error), error.errors)
    if isinstance(error, AuthenticationError):
        response.headers["WWW-Authenticate"] = "Bearer"
    if error.retry_after_seconds is not None:
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response


async def _client_error(request: Request, error: Exception) -> JSONResponse:
    """An error of the PostgreSQL, Redis or S3 client: a 503 while the dependency is out, and
    otherwise on to the 500 handler, which logs it without its values (ValueFreeErrors)."""
    unavailable = outages.outage(error)
    if unavailable is None:
        raise error
    return await _bi_agent_error(request, unavailable)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # The input value is left out on purpose: it may be a password or PHI.
    errors = [ErrorItem(loc=list(item["loc"]), msg=item["msg"]) for item in error.errors()]
    where = "; ".join(f"{'.'.join(str(part) for part in item.loc)}: {item.msg}" for item in errors)
    return problem(422, "Invalid request", f"{request.method} {request.url.path}: {where}", errors)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    detail = error.detail if isinstance(error.detail, str) else str(error.detail)
    if error.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.method} {request.url.path}"
    response = problem(error.status_code, _title(error.status_code), detail)
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Internal error", f"{request.method} {request.url.path} failed; the server log has details")


class ValueFreeErrors:
    """The outermost of a service's own middleware: an error no handler took goes on to the 500
    handler's log line and to the server's ("Exception in ASGI application", uvicorn's) retold
    by `error_text.value_free`, since its message may quote a value the request carried."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except Exception as error:
            raise error_text.value_free(error) from None


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(BIAgentError, _bi_agent_error)
    for client_error in outages.CLIENT_ERRORS:
        app.add_exception_handler(client_error, _client_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
