"""Request-scoped dependencies: settings, database sessions and the calling principal.

Sessions commit when the handler returns (``scope="function"``, so before the response is
sent); services never commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import DBAPIError
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth import service as auth_service
from app.auth.schemas import Role
from app.auth.service import Principal
from app.config import Settings
from app.db import Database, unwritable_reason, utcnow
from app.errors import Problem
from app.openapi import path_operations
from app.text import forbidden_character, shown

__all__ = [
    "AdminDep",
    "DatabaseDep",
    "OperatorDep",
    "ReadSessionDep",
    "SettingsDep",
    "ViewerDep",
    "WriteSessionDep",
    "no_control_characters",
    "only_documented_query",
]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]


async def read_session(database: DatabaseDep) -> AsyncIterator[AsyncSession]:
    async with database.read_session() as session:
        yield session


async def write_session(database: DatabaseDep) -> AsyncIterator[AsyncSession]:
    async with database.write_session() as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(read_session, scope="function")]
WriteSessionDep = Annotated[AsyncSession, Depends(write_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer lv_…`")
_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


async def get_principal(
    database: DatabaseDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from its bearer key; 401 when the key is missing, unknown or revoked."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(
            401, "an API key is required: Authorization: Bearer <key>", headers=_UNAUTHORIZED
        )
    async with database.read_session() as session:
        row = await auth_service.authenticate(session, credentials.credentials)
    if row is None or row.id is None:
        raise Problem(401, "the API key is unknown or revoked", headers=_UNAUTHORIZED)
    principal = Principal(
        key_id=row.id, name=row.name, role=Role(row.role), region_prefix=row.region_prefix
    )
    if auth_service.needs_touch(row):
        try:
            async with database.write_session() as session:
                row.last_used_at = utcnow()
                session.add(row)
        except DBAPIError as exc:  # a full disk must not stop reads: the touch waits for space
            if unwritable_reason(exc) is None:
                raise
    return principal


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits principals holding ``role`` or a stronger one (else 403)."""

    async def dependency(
        principal: Annotated[Principal, Depends(get_principal)],
    ) -> Principal:
        if not principal.allows(role):
            raise Problem(
                403, f"this action needs the {role.value} role; the key is {principal.role.value}"
            )
        return principal

    return dependency


ViewerDep = Annotated[Principal, Depends(require(Role.VIEWER))]
OperatorDep = Annotated[Principal, Depends(require(Role.OPERATOR))]
AdminDep = Annotated[Principal, Depends(require(Role.ADMIN))]


async def only_documented_query(request: Request) -> None:
    """Refuse (422) query parameters the operation does not document, as bodies refuse unknown
    fields: a misspelt filter would otherwise be ignored and answer the unfiltered registry."""
    if not request.query_params:
        return
    operation = path_operations(request.app, request.scope["path"]).get(request.method)
    if operation is None:
        return
    known = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    unknown = [name for name in dict.fromkeys(request.query_params) if name not in known]
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise Problem(
            422,
            f"unknown query parameter {', '.join(unknown)}; this operation takes: {takes}",
            errors=[{"field": n, "message": "not a parameter of this operation"} for n in unknown],
        )


def _first_forbidden(document: object) -> tuple[str, str] | None:
    """The dotted path of the first string (or key) in a JSON document holding a character
    stored text may not hold (app/text.py), and why."""
    stack: list[tuple[str, object]] = [("", document)]
    while stack:  # iterative: a body may be nested as deep as the parser allowed
        path, value = stack.pop()
        if isinstance(value, str) and (reason := forbidden_character(value)):
            return path or "body", reason
        if isinstance(value, dict):
            children = [(str(k), v) for k, v in value.items()]
        elif isinstance(value, list):
            children = [(str(i), v) for i, v in enumerate(value)]
        else:
            continue
        for key, child in children:
            child_path = f"{path}.{key}" if path else key
            if reason := forbidden_character(key):
                return child_path, reason
            stack.append((child_path, child))
    return None


async def no_control_characters(request: Request) -> None:
    """Refuse (422) a query or JSON body holding a control character other than tab and
    newline (app/text.py), naming the field: PostgreSQL cannot store NUL (it was a 500), and
    a stored control character made every XLSX export of its region fail."""
    found = next(
        (
            (key, reason)
            for key, value in request.query_params.multi_items()
            if (reason := forbidden_character(key + value))
        ),
        None,
    )
    if found is None and "json" in request.headers.get("content-type", ""):
        try:
            found = _first_forbidden(await request.json())
        except (ValueError, RecursionError):
            return  # FastAPI has answered or will answer for an unreadable body
    if found is not None:
        field, reason = found
        field = shown(field)  # the name itself may be at fault
        raise Problem(
            422,
            f"invalid input in {field}: text {reason}",
            errors=[{"field": field, "message": reason}],
        )
