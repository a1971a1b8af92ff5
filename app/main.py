"""The FastAPI application and its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from app import __version__
from app.accounts.router import router as accounts_router
from app.audit.router import router as audit_router
from app.auth.router import router as keys_router
from app.checks.pipeline import CheckRunner, make_http_client
from app.checks.router import router as checks_router
from app.config import Settings, get_settings
from app.db import Database, Unwritable, unwritable_reason, utcnow
from app.deps import no_control_characters, only_documented_query
from app.errors import (
    UNWRITABLE_RETRY_AFTER_S,
    install_problem_handlers,
    problem_response,
    unwritable_detail,
)
from app.events.router import router as webhooks_router
from app.flags.router import router as flags_router
from app.inspections.router import router as inspections_router
from app.limits import BodyLimitMiddleware
from app.metrics.process import set_build_info
from app.metrics.router import router as metrics_router
from app.reports.router import router as reports_router
from app.runtime import startup_objects_frozen
from app.scheduling.dispatch import last_tick
from app.scheduling.inline import InlineExecutor
from app.scheduling.scheduler import Scheduler

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
        client = make_http_client(settings)
        runner = CheckRunner(database=database, client=client, settings=settings)
        app.state.database = database
        app.state.runner = runner
        app.state.started_at = utcnow()
        set_build_info(settings.build_revision)
        scheduler: Scheduler | None = None
        executor: InlineExecutor | None = None
        if settings.executor == "inline" and settings.scheduler_enabled:
            executor = InlineExecutor(runner)
            scheduler = Scheduler(runner, executor)
            scheduler.start()
        app.state.scheduler = scheduler
        try:
            with startup_objects_frozen():
                yield
        finally:
            if scheduler is not None:
                await scheduler.shutdown()
            if executor is not None:
                await executor.close()
            await client.aclose()
            await database.dispose()

    app = FastAPI(
        title="liveness",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(only_documented_query), Depends(no_control_characters)],
    )
    app.state.settings = settings
    install_problem_handlers(app)

    # Multipart framing adds a little to an upload of exactly the file limit.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_upload_bytes + 64 * 1024)

    @app.get("/healthz", tags=["health"], summary="Liveness of the process")
    async def healthz() -> dict[str, str]:
        """Always ok while the process serves requests."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Readiness: database and scheduler")
    async def readyz(request: Request) -> JSONResponse:
        """Ok when the database answers, takes writes, and a scheduler has ticked within 3
        intervals. After a write refused for want of disk space, or while the scheduler (in
        this process or another) does not tick, each call tries a small write: it names a full
        disk as the cause, and readiness comes back by itself once space is freed."""
        database: Database = request.app.state.database
        allowed = timedelta(seconds=3 * settings.claim_interval_s)
        try:
            async with database.read_session() as session:
                ticked = await last_tick(session)
            stalled = settings.scheduler_enabled and (
                (ticked or request.app.state.started_at) < utcnow() - allowed
            )
            probe = database.unwritable is not None or stalled
            unwritable = await database.probe_write() if probe else None
        except Exception as exc:  # any failure means not ready
            reason = unwritable_reason(exc)
            if reason is None:
                logger.warning("readiness check failed: %s", type(exc).__name__)
                return problem_response(request, 503, "the database does not answer")
            unwritable = database.unwritable or Unwritable(reason, utcnow())
        if unwritable:
            return problem_response(
                request,
                503,
                f"{unwritable_detail(unwritable.reason)} (writes refused since "
                f"{unwritable.since.isoformat()})",
                headers={"Retry-After": str(UNWRITABLE_RETRY_AFTER_S)},
            )
        if stalled:
            return problem_response(
                request,
                503,
                f"the scheduler has not ticked since {ticked.isoformat() if ticked else 'start'}",
            )
        return JSONResponse({"status": "ok", "scheduler_last_tick": ticked and ticked.isoformat()})

    app.include_router(accounts_router)
    app.include_router(keys_router)
    app.include_router(audit_router)
    app.include_router(checks_router)
    app.include_router(flags_router)
    app.include_router(reports_router)
    app.include_router(inspections_router)
    app.include_router(webhooks_router)
    app.include_router(metrics_router)
    return app
