"""Check routes: check now, history, all checks, platform health."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request

import monitors
from app.accounts import service as accounts_service
from app.accounts.schemas import Platform
from app.checks import pipeline, service
from app.checks.pipeline import CheckRunner
from app.checks.schemas import CheckRead, PlatformRead
from app.db import utcnow
from app.deps import OperatorDep, ReadSessionDep, ViewerDep
from app.errors import Problem, problem_responses
from app.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from app.params import IsoDatetime, RowId
from app.scheduling import dispatch
from monitors import Outcome

router = APIRouter(prefix="/api/v1", tags=["checks"])


def _page(rows: list[object], limit: int) -> Page[CheckRead]:
    items = [CheckRead.model_validate(r) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more else None)


@router.post(
    "/accounts/{account_id}/checks",
    response_model=CheckRead,
    status_code=201,
    summary="Check now",
    responses=problem_responses(429),
)
async def check_now(
    account_id: RowId, request: Request, session: ReadSessionDep, principal: OperatorDep
) -> CheckRead:
    """Observe the account now, store the check and answer it (operator role)."""
    account = await accounts_service.get_account(
        session, account_id, scope_prefix=principal.region_prefix
    )
    if account is None:
        raise Problem(404, f"no account with id {account_id}")
    await session.close()  # no transaction may stay open across the HTTP call
    runner: CheckRunner = request.app.state.runner
    # Check-now spends the platform's request budget like any check, and must not overrun
    # it (a supervisor clicking through a list): when it is spent, the client waits instead.
    if wait := runner.budget_wait_s(account.platform):
        raise Problem(
            429,
            f"the request budget for {account.platform} is spent; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    row = await pipeline.check_now(runner, account_id, principal)
    if row is None:
        raise Problem(404, f"no account with id {account_id}")
    return CheckRead.model_validate(row)


@router.get(
    "/accounts/{account_id}/checks",
    response_model=Page[CheckRead],
    summary="An account's check history",
)
async def account_checks(
    account_id: RowId,
    session: ReadSessionDep,
    principal: ViewerDep,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[CheckRead]:
    """The account's checks, newest first."""
    account = await accounts_service.get_account(
        session, account_id, scope_prefix=principal.region_prefix
    )
    if account is None:
        raise Problem(404, f"no account with id {account_id}")
    rows = await service.list_checks(
        session, account_id=account_id, before_id=decode_cursor(cursor), limit=limit + 1
    )
    return _page(list(rows), limit)


@router.get("/checks", response_model=Page[CheckRead], summary="All checks")
async def all_checks(
    session: ReadSessionDep,
    principal: ViewerDep,
    platform: Annotated[Platform | None, Query()] = None,
    outcome: Annotated[Outcome | None, Query()] = None,
    since: Annotated[IsoDatetime | None, Query(description="ISO 8601 time, with zone.")] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[CheckRead]:
    """Checks across the registry (within the key's region), newest first."""
    rows = await service.list_checks(
        session,
        platform=str(platform) if platform else None,
        outcome=outcome.value if outcome else None,
        since=since,
        scope_prefix=principal.region_prefix,
        before_id=decode_cursor(cursor),
        limit=limit + 1,
    )
    return _page(list(rows), limit)


@router.get("/platforms", response_model=list[PlatformRead], summary="Platform health")
async def platforms(session: ReadSessionDep, principal: ViewerDep) -> list[PlatformRead]:
    """Each platform's canary verdict, last check, overdue count and last hour's outcomes."""
    now = utcnow()
    health = await service.get_health(session)
    last = await service.last_check_per_platform(session)
    # Counts cover the key's region; canary verdicts and last checks are platform-wide.
    scope = principal.region_prefix
    overdue = await dispatch.count_overdue(session, now, scope_prefix=scope)
    hour_ago = now - timedelta(hours=1)
    counts = await service.outcome_counts_since(session, hour_ago, scope_prefix=scope)
    result = []
    for platform in monitors.PLATFORMS:
        h = health.get(platform)
        result.append(
            PlatformRead(
                platform=platform,
                degraded=bool(h and h.degraded),
                reason=h.reason if h else "",
                changed_at=h.changed_at if h else None,
                last_canary_at=h.last_canary_at if h else None,
                last_check_at=last.get(platform),
                overdue=overdue.get(platform, 0),
                outcomes_last_hour=counts.get(platform, {}),
            )
        )
    return result
