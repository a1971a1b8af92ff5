"""GET /metrics: this process's counters plus gauges read from the database at scrape time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from app.db import utcnow
from app.deps import DatabaseDep, SettingsDep, get_principal
from app.errors import Problem
from app.metrics.access import UNAUTHORIZED_DETAIL, token_matches
from app.metrics.exposition import SnapshotCollector, families, per_account_text
from app.metrics.service import read_snapshot

__all__ = ["router"]

# The classic text format, which every Prometheus 2.x parses (our names are plain ASCII).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

router = APIRouter(tags=["metrics"])
_bearer = HTTPBearer(auto_error=False)


async def _allowed(
    settings: SettingsDep,
    database: DatabaseDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Open by default, as exporters are. With LIVENESS_METRICS_TOKEN the bearer of that token
    may read; with LIVENESS_METRICS_REQUIRE_KEY a key of any role without a region scope may
    (the gauges cover every region). With both, either will do."""
    token = settings.metrics_token
    if token is None and not settings.metrics_require_key:
        return
    given = credentials.credentials if credentials else None
    if token is not None and token_matches(given, token):
        return
    if not settings.metrics_require_key:
        raise Problem(401, UNAUTHORIZED_DETAIL, headers={"WWW-Authenticate": "Bearer"})
    principal = await get_principal(database, credentials)
    if principal.region_prefix is not None:
        raise Problem(403, "metrics cover every region; a region-scoped key cannot read them")


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(_allowed)])
async def metrics(settings: SettingsDep, database: DatabaseDep) -> Response:
    """Prometheus text format: process counters, then the database gauges, then the
    per-account series."""
    now = utcnow()
    async with database.read_session() as session:
        snapshot = await read_snapshot(session, now=now, per_account=settings.metrics_per_account)
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(SnapshotCollector(families(snapshot, now=now)))
    body = generate_latest(REGISTRY) + generate_latest(scrape) + per_account_text(snapshot).encode()
    return Response(content=body, media_type=CONTENT_TYPE)
