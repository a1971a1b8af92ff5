"""Report routes: thin handlers over reports.service, with CSV and XLSX exports."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic_core import to_json

from app.accounts.models import Account
from app.accounts.schemas import AccountRead, Platform
from app.db import utcnow
from app.deps import DatabaseDep, ReadSessionDep, SettingsDep, ViewerDep
from app.errors import Problem
from app.flags.models import Flag
from app.flags.policy import FLAG_LABELS
from app.flags.router import FlagCode
from app.pagination import CursorQuery, LimitQuery, decode_cursor, encode_cursor
from app.params import IsoDatetime, RegionPrefixQuery
from app.reports import current, export, service
from app.reports.schemas import (
    GroupBy,
    ProblemAccount,
    ProblemFlag,
    ProblemPage,
    SampleRequest,
    SampleResult,
    Summary,
)

router = APIRouter(prefix="/api/v1", tags=["reports"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORTS: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}, XLSX: {}}}}

AtQuery = Annotated[
    IsoDatetime | None,
    Query(description="The time point (监测时间点), ISO 8601 with a zone; default now."),
]
FormatQuery = Annotated[
    Literal["json", "csv", "xlsx"], Query(description="json, or a sheet with Chinese headers.")
]


def _at(at: datetime | None) -> datetime:
    return utcnow() if at is None else at


def _sheet(table: export.Table, fmt: str, stem: str, at: datetime, sheet: str) -> Response:
    name = f"{stem}-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "xlsx":
        return Response(export.to_xlsx(table, sheet), media_type=XLSX, headers=headers)
    return Response(export.to_csv(table), media_type="text/csv; charset=utf-8", headers=headers)


def _row(group: service.GroupCounts) -> dict[str, Any]:
    # A SummaryRow as a plain dict: 4,000 organisations cost ~20 ms as model instances
    # (even unvalidated), and these are our own counts, nothing to validate.
    return {
        "key": group.key,
        "name": group.name,
        "total": group.total,
        "checked": group.checked,
        "passing": group.passing,
        "pass_rate": group.pass_rate,
        "flags": group.flags,
    }


@router.get(
    "/reports/summary",
    response_model=Summary,
    summary="Pass rates as of a time point",
    responses=EXPORTS,
)
async def summary(
    database: DatabaseDep,
    principal: ViewerDep,
    group_by: Annotated[GroupBy, Query()] = "region",
    at: AtQuery = None,
    format: FormatQuery = "json",
) -> Response:
    """Totals, checked, passing (合格: no single-veto flag open), pass rate and open-flag counts
    per group as of ``at``, within the key's region: as of now from the accounts' open-flag
    mirror, as of a past ``at`` from flag history (``current.summary_as_of``)."""
    when = _at(at)
    groups, totals = await current.summary_as_of(
        database.read_session,
        group_by,
        None if at is None or when >= utcnow() else when,
        scope_prefix=principal.region_prefix,
    )
    if format != "json":
        table = export.summary_table(group_by, groups, totals)
        return _sheet(table, format, f"summary-{group_by}", when, "汇总")
    body = {
        "at": when,
        "group_by": group_by,
        "labels": dict(FLAG_LABELS),
        "groups": [_row(g) for g in groups],
        "totals": _row(totals),
    }
    # In the shape of Summary (the tests and the fuzzer check it), serialised once by
    # pydantic-core; through response_model FastAPI would build and validate it all again.
    return Response(to_json(body), media_type="application/json")


def _problem(account: Account, flags: list[Flag]) -> ProblemAccount:
    assert account.id is not None
    return ProblemAccount(
        id=account.id,
        platform=account.platform,
        handle=account.handle,
        name=account.name,
        organization=account.organization,
        region_code=account.region_code,
        region_name=account.region_name,
        department=account.department,
        status=account.status,
        last_checked_at=account.last_checked_at,
        last_outcome=account.last_outcome,
        last_post_at=account.last_post_at,
        passing=not any(f.veto for f in flags),
        flags=[
            ProblemFlag(
                id=f.id or 0,
                code=f.code,
                label_zh=FLAG_LABELS.get(f.code, f.code),
                veto=f.veto,
                opened_at=f.opened_at,
                rule=f.rule,
                source=f.source,
                evidence=f.evidence,
            )
            for f in flags
        ],
    )


@router.get(
    "/reports/problems",
    response_model=ProblemPage,
    summary="Accounts with prominent problems",
    responses=EXPORTS,
)
async def problems(
    session: ReadSessionDep,
    principal: ViewerDep,
    settings: SettingsDep,
    at: AtQuery = None,
    platform: Annotated[Platform | None, Query()] = None,
    region_code: RegionPrefixQuery = None,
    organization: Annotated[str | None, Query(max_length=200)] = None,
    code: Annotated[FlagCode | None, Query(description="Only accounts with this flag.")] = None,
    format: FormatQuery = "json",
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> ProblemPage | Response:
    """The 问题账号清单 as of ``at``: accounts with a single-veto flag, or a zombie, empty-shell
    or unreachable flag, open; each with every flag open on it and its evidence. A sheet
    export holds every such account (limit and cursor apply to json only)."""
    when = _at(at)
    filters = service.ProblemFilters(
        platform=str(platform) if platform else None,
        region_code=region_code,
        organization=organization,
        code=code,
    )
    scope = principal.region_prefix
    if format != "json":
        items: list[tuple[Account, list[Flag]]] = []
        after: int | None = None
        while page := await service.problem_page(
            session, when, filters, scope_prefix=scope, limit=1000, after_id=after
        ):
            items.extend(page)
            after = page[-1][0].id
        table = export.problem_table(items, when.tzinfo or UTC)
        return _sheet(table, format, "problems", when, "问题账号清单")
    limit = min(limit, settings.page_size_max)
    rows = await service.problem_page(
        session, when, filters, scope_prefix=scope, limit=limit + 1, after_id=decode_cursor(cursor)
    )
    page, more = rows[:limit], len(rows) > limit
    last = page[-1][0].id if page else None
    return ProblemPage(
        at=when,
        items=[_problem(a, f) for a, f in page],
        next_cursor=encode_cursor(last) if more and last is not None else None,
    )


@router.post("/samples", response_model=SampleResult, summary="Draw a spot-check sample")
async def draw_sample(
    body: SampleRequest, session: ReadSessionDep, principal: ViewerDep
) -> SampleResult:
    """A reproducible random sample (ratio or size) of the accounts matching the filters,
    within the key's region: the same seed over the same registry gives the same accounts."""
    if (body.ratio is None) == (body.size is None):
        field = "ratio" if body.ratio is None else "size"
        raise Problem(
            422,
            "give exactly one of ratio (0 < ratio <= 1) and size",
            errors=[{"field": field, "message": "give exactly one of ratio and size"}],
        )
    seed = body.seed if body.seed is not None else secrets.randbelow(2**63)
    spec = service.SampleSpec(
        seed=seed,
        ratio=body.ratio,
        size=body.size,
        platform=str(body.filters.platform) if body.filters.platform else None,
        region_code=body.filters.region_code,
        organization=body.filters.organization,
        status=str(body.filters.status),
    )
    population, accounts = await service.draw_sample(
        session, spec, scope_prefix=principal.region_prefix
    )
    return SampleResult(
        seed=seed,
        ratio=body.ratio,
        size=body.size,
        filters=body.filters,
        population=population,
        sampled=len(accounts),
        method=service.SAMPLE_METHOD,
        items=[AccountRead.model_validate(a) for a in accounts],
    )
