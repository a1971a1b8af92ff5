"""RFC 9457 problem details for every 4xx and 5xx answer, validation errors included."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from types import TracebackType
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.db import unwritable_reason
from app.openapi import path_operations

__all__ = [
    "PROBLEM_JSON",
    "UNWRITABLE_RETRY_AFTER_S",
    "Problem",
    "ProblemDetails",
    "install_problem_handlers",
    "problem_body",
    "problem_response",
    "problem_responses",
    "unwritable_detail",
]

PROBLEM_JSON = "application/problem+json"
# What a client refused because the database cannot be written is told to wait: long enough
# for an operator to free space, short enough that a retry soon after succeeds.
UNWRITABLE_RETRY_AFTER_S = 60
logger = logging.getLogger(__name__)


class Problem(Exception):
    """An error the API reports as problem details. ``errors`` lists the fields or rows at fault,
    each as ``{"field": ..., "message": ...}`` (or ``line``/``column`` for imports)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.errors = errors
        self.headers = headers


class ProblemError(BaseModel):
    """One field or row at fault: ``field`` (or ``line`` and ``column``) and ``message``."""

    model_config = ConfigDict(extra="allow")

    field: str | None = None
    message: str


class ProblemDetails(BaseModel):
    """The body of every 4xx and 5xx answer (RFC 9457), documented in the OpenAPI schema."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[ProblemError] | None = None


_PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries declaring problem-details answers with ``statuses``."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
        }
        for status in statuses
    }


def _document_problems(document: dict[str, Any]) -> None:
    """Declare the problem answers operations give by their shape, so clients and fuzzers know
    them: 422 for invalid input (in place of FastAPI's own error shape, which this API never
    sends), 401 and 403 wherever a key is needed, 404 wherever the path names a resource, 400
    wherever a cursor or a body is read (a body that cannot be parsed), 413 wherever a body is
    read. Other answers (409) are declared by their routes."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["ProblemDetails"] = problem
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            statuses = [422] if "422" in responses else []
            if operation.get("security"):
                statuses += [401, 403]
            parameters = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
            if any(where == "path" for where, _ in parameters):
                statuses.append(404)
            if ("query", "cursor") in parameters:
                statuses.append(400)
            if "requestBody" in operation:
                statuses += [400, 413]
            for status, entry in problem_responses(*statuses).items():
                if status == 422:
                    responses["422"] = entry
                else:
                    responses.setdefault(str(status), entry)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def problem_body(
    status: int,
    detail: str,
    instance: str,
    *,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The RFC 9457 body of an answer with ``status`` to a request for ``instance`` (a path)."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        body["errors"] = errors
    return body


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Build an ``application/problem+json`` response for ``request``."""
    body = problem_body(status, detail, request.url.path, title=title, errors=errors)
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


def unwritable_detail(reason: str) -> str:
    """What a 503 says when the database cannot be written for ``reason``."""
    return f"the database cannot be written: {reason}; try again later"


def _field_name(loc: tuple[Any, ...]) -> str:
    # ("body", "handle") -> "handle"; ("query", "limit") -> "limit"; list indexes stay: "0.handle"
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "request")


def _validation_error(error: Mapping[str, Any]) -> dict[str, Any]:
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "json_invalid":
        # FastAPI puts the character offset where a field name would be.
        reason = error.get("ctx", {}).get("error", "")
        return {"field": "body", "message": f"not valid JSON: {reason} at character {loc[-1]}"}
    return {
        "field": _field_name(loc),
        "message": str(error.get("msg", "")).removeprefix("Value error, "),
    }


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def _loggable(exc: BaseException) -> ExcInfo:
    """What the log shows of an unexpected error. PostgreSQL's messages carry the failing row's
    values (DETAIL: key hashes, webhook secrets), so a database error is shown by its primary
    message and statement only, with its traceback."""
    if not isinstance(exc, DBAPIError):
        return type(exc), exc, exc.__traceback__
    diag = getattr(exc.orig, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(exc.orig).split("\n")[0]
    kind = f"{type(exc).__name__} ({type(exc.orig).__name__})"
    shown = RuntimeError(f"{kind}: {primary} [SQL: {exc.statement}]")
    return RuntimeError, shown, exc.__traceback__


def _unparsable_body(cause: BaseException | None) -> str | None:
    """Why FastAPI could not read a body it answers 400 for, when the cause says more than its
    own "There was an error parsing the body"."""
    if isinstance(cause, UnicodeDecodeError):
        return (
            f"the request body is not valid UTF-8 (byte 0x{cause.object[cause.start]:02x} at "
            f"offset {cause.start}); send JSON encoded as UTF-8"
        )
    if isinstance(cause, RecursionError):
        return "the JSON body is nested too deeply to read"
    return None


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error, ours or the framework's, a problem-details answer, and say so in the
    OpenAPI schema."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document_problems(generate())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            request,
            exc.status,
            exc.detail,
            title=exc.title,
            errors=exc.errors,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_validation_error(e) for e in exc.errors()]
        fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
        detail = f"invalid input in {fields}: {errors[0]['message']}" if errors else "invalid input"
        return problem_response(request, 422, detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 400:
            detail = _unparsable_body(exc.__cause__) or detail
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Each method of a path is a route of its own, and the framework's Allow names only
            # the route it tried; RFC 9110 wants every method the path answers.
            documented = path_operations(request.app, request.scope["path"])
            if documented:
                headers["Allow"] = ", ".join(sorted(documented))
        return problem_response(request, exc.status_code, detail, headers=headers)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        reason = unwritable_reason(exc)
        if reason is not None:
            # An operations condition, not a bug: one line, no traceback, for every refusal.
            logger.warning("write refused on %s %s: %s", request.method, request.url.path, reason)
            return problem_response(
                request,
                503,
                unwritable_detail(reason),
                headers={"Retry-After": str(UNWRITABLE_RETRY_AFTER_S)},
            )
        logger.error(
            "unhandled error on %s %s", request.method, request.url.path, exc_info=_loggable(exc)
        )
        return problem_response(request, 500, "an unexpected error occurred; it has been logged")
