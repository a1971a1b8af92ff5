"""The FastAPI application and its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app import __version__
from app.accounts.router import router as accounts_router
from app.audit.router import router as audit_router
from app.auth.router import router as keys_router
from app.config import Settings, get_settings
from app.db import Database
from app.errors import install_problem_handlers, problem_response
from app.limits import BodyLimitMiddleware

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

DESCRIPTION = """
Watches government new-media accounts, apps and websites and tells supervisors which are dead.

Every `/api/v1` route needs `Authorization: Bearer <key>` (create one with
`liveness keys create --role admin`). Errors are RFC 9457 problem details.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application. Tests pass their own settings; the CLI uses the environment."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
        app.state.database = database
        try:
            yield
        finally:
            await database.dispose()

    app = FastAPI(
        title="liveness",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_problem_handlers(app)

    # Multipart framing adds a little to an upload of exactly the file limit.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_upload_bytes + 64 * 1024)

    @app.get("/healthz", tags=["health"], summary="Liveness of the process")
    async def healthz() -> dict[str, str]:
        """Always ok while the process serves requests."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Readiness: the database answers")
    async def readyz(request: Request) -> JSONResponse:
        """Ok when the database answers a query."""
        database: Database = request.app.state.database
        try:
            async with database.read_session() as session:
                await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        except Exception as exc:  # any failure means not ready
            logger.warning("readiness check failed: %s", type(exc).__name__)
            return problem_response(request, 503, "the database does not answer")
        return JSONResponse({"status": "ok"})

    app.include_router(accounts_router)
    app.include_router(keys_router)
    app.include_router(audit_router)
    return app
