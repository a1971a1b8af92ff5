"""Inspections: take one (freeze it), list them, read one whole, delete one.

The only module that queries the inspection tables, and the one that writes their events and
audit rows. Taking reads the registry, flags and checks as of the time point and writes the
frozen rows in the same transaction, so what is frozen is one consistent snapshot.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.audit.service import record
from app.auth.service import Principal
from app.db import insert_rows
from app.errors import Problem
from app.events.service import emit
from app.flags.policy import FLAG_LABELS
from app.inspections import figures
from app.inspections.figures import FrozenAccount, FrozenFlag
from app.inspections.models import Inspection, InspectionAccount, InspectionFlag
from app.inspections.schemas import InspectionCreate
from app.inspections.snapshot import Scope, read_snapshot
from app.reports.service import SAMPLE_METHOD, SampleSpec

__all__ = [
    "Progress",
    "Taken",
    "delete",
    "get",
    "list_page",
    "read_frozen",
    "result",
    "row_data",
    "take",
]

# Called with (accounts written, accounts to write) while an inspection is taken.
Progress = Callable[[int, int], None]
_CHUNK = 2_000
# The frozen columns, named as on the dataclasses and the tables.
_ACCOUNT_FIELDS = tuple(f.name for f in fields(FrozenAccount) if f.name != "flags")
_FLAG_FIELDS = tuple(f.name for f in fields(FrozenFlag))


def _scope_of(body: InspectionCreate, principal: Principal) -> Scope:
    asked = body.scope.region_prefix
    mine = principal.region_prefix
    if mine and asked and not asked.startswith(mine):
        raise Problem(
            403,
            f"this key may only inspect regions whose code starts with {mine}",
            errors=[{"field": "scope.region_prefix", "message": "outside this key's region scope"}],
        )
    return Scope(
        region_prefix=asked or mine,
        platforms=tuple(str(p) for p in body.scope.platforms),
        departments=tuple(body.scope.departments),
        levels=tuple(str(v) for v in body.scope.levels),
        categories=tuple(body.scope.categories),
    )


def _scope_json(scope: Scope) -> str:
    return json.dumps(
        {
            "region_prefix": scope.region_prefix,
            "platforms": list(scope.platforms),
            "departments": list(scope.departments),
            "levels": list(scope.levels),
            "categories": list(scope.categories),
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def _scope_key(scope_text: str) -> str:
    return hashlib.sha256(scope_text.encode()).hexdigest()


async def _previous(session: AsyncSession, scope_key: str, at: datetime) -> int | None:
    """The latest inspection of the same scope with a time point no later than ``at``."""
    query = (
        select(col(Inspection.id))
        .where(col(Inspection.scope_key) == scope_key, col(Inspection.at) <= at)
        .order_by(col(Inspection.at).desc(), col(Inspection.id).desc())
        .limit(1)
    )
    return (await session.exec(query)).first()


@dataclass(frozen=True, slots=True)
class Taken:
    """An inspection just taken, with its frozen accounts (for the caller's answer)."""

    inspection: Inspection
    accounts: list[FrozenAccount]


async def _write_rows(
    session: AsyncSession, inspection_id: int, accounts: Sequence[FrozenAccount], progress: Progress
) -> None:
    connection = await session.connection()
    account_table = InspectionAccount.__table__  # type: ignore[attr-defined]
    flag_table = InspectionFlag.__table__  # type: ignore[attr-defined]
    for start in range(0, len(accounts), _CHUNK):
        chunk = accounts[start : start + _CHUNK]
        rows = [{"inspection_id": inspection_id} for _ in chunk]
        for row, account in zip(rows, chunk, strict=True):
            for name in _ACCOUNT_FIELDS:
                row[name] = getattr(account, name)
        await insert_rows(connection, account_table, rows)
        flags = [f for account in chunk for f in account.flags]
        if flags:
            params = [
                {"inspection_id": inspection_id} | {n: getattr(f, n) for n in _FLAG_FIELDS}
                for f in flags
            ]
            await insert_rows(connection, flag_table, params)
        progress(start + len(chunk), len(accounts))


def _no_progress(done: int, total: int) -> None:
    """Progress is not reported."""


async def take(
    session: AsyncSession,
    body: InspectionCreate,
    principal: Principal,
    *,
    now: datetime,
    seed: int,
    progress: Progress = _no_progress,
) -> Taken:
    """Freeze an inspection of ``body``'s scope (or its sample) as of ``body.at`` (default
    ``now``), audited and announced (``inspection.created``) in the same transaction.
    ``seed`` draws the sample when the body gives none."""
    scope = _scope_of(body, principal)
    at = body.at or now
    if at > now:
        raise Problem(
            422,
            "the time point is in the future: nothing is known of it yet",
            errors=[{"field": "at", "message": "a time point no later than now"}],
        )
    sample = None
    if body.sample is not None:
        given = body.sample
        if (given.ratio is None) == (given.size is None):
            raise Problem(
                422,
                "a sample gives exactly one of ratio (0 < ratio <= 1) and size",
                errors=[{"field": "sample", "message": "give exactly one of ratio and size"}],
            )
        seed = given.seed if given.seed is not None else seed
        sample = SampleSpec(seed=seed, ratio=given.ratio, size=given.size)
    snapshot = await read_snapshot(await session.connection(), scope, at, sample)
    totals = figures.headline(snapshot.accounts)
    scope_text = _scope_json(scope)
    inspection = Inspection(
        name=body.name,
        at=at,
        region_prefix=scope.region_prefix,
        scope=scope_text,
        scope_key=_scope_key(scope_text),
        sample_ratio=sample.ratio if sample else None,
        sample_size=sample.size if sample else None,
        sample_seed=sample.seed if sample else None,
        accounts_in_scope=snapshot.accounts_in_scope,
        sampled=totals.sampled,
        checked=totals.checked,
        passing=totals.passing,
        previous_id=await _previous(session, _scope_key(scope_text), at),
        created_at=now,
        created_by=principal.name,
    )
    session.add(inspection)
    await session.flush()
    assert inspection.id is not None
    await _write_rows(session, inspection.id, snapshot.accounts, progress)
    headline = row_data(inspection)
    record(session, principal, "inspection.create", f"inspection:{inspection.id}", headline)
    emit(
        session,
        "inspection.created",
        {
            "inspection": headline | {"flag_counts": totals.flag_counts},
            "links": {"inspection": f"/api/v1/inspections/{inspection.id}"},
        },
        at=now,
        region_code=scope.region_prefix,
    )
    return Taken(inspection, snapshot.accounts)


def _visible(scope_prefix: str | None) -> list[ColumnElement[bool]]:
    if not scope_prefix:
        return []
    return [col(Inspection.region_prefix).startswith(scope_prefix, autoescape=True)]


async def get(session: AsyncSession, inspection_id: int, scope_prefix: str | None) -> Inspection:
    """One inspection inside the caller's region; 404 when there is none (or it is outside)."""
    query = select(Inspection).where(col(Inspection.id) == inspection_id, *_visible(scope_prefix))
    found = (await session.exec(query)).first()
    if found is None:
        raise Problem(404, f"no inspection with id {inspection_id}")
    return found


async def list_page(
    session: AsyncSession, scope_prefix: str | None, *, limit: int, before_id: int | None
) -> list[Inspection]:
    """Inspections inside the caller's region, newest first (by id), after the cursor."""
    conditions = _visible(scope_prefix)
    if before_id is not None:
        conditions.append(col(Inspection.id) < before_id)
    query = select(Inspection).where(*conditions).order_by(col(Inspection.id).desc()).limit(limit)
    return list((await session.exec(query)).all())


async def read_frozen(session: AsyncSession, inspection_id: int) -> list[FrozenAccount]:
    """The frozen accounts of an inspection, in id order, each with its frozen flags."""
    connection = await session.connection()
    account_table = InspectionAccount.__table__  # type: ignore[attr-defined]
    flag_table = InspectionFlag.__table__  # type: ignore[attr-defined]
    flags: dict[int, list[FrozenFlag]] = {}
    flag_query = (
        sa.select(*(flag_table.c[n] for n in _FLAG_FIELDS))
        .where(flag_table.c.inspection_id == inspection_id)
        .order_by(flag_table.c.account_id, flag_table.c.opened_at, flag_table.c.flag_id)
    )
    for row in await connection.execute(flag_query):
        flags.setdefault(row[0], []).append(FrozenFlag(*row))
    account_query = (
        sa.select(*(account_table.c[n] for n in _ACCOUNT_FIELDS))
        .where(account_table.c.inspection_id == inspection_id)
        .order_by(account_table.c.account_id)
    )
    return [
        FrozenAccount(**dict(zip(_ACCOUNT_FIELDS, row, strict=True)), flags=flags.get(row[0], []))
        for row in await connection.execute(account_query)
    ]


def row_data(inspection: Inspection) -> dict[str, Any]:
    """The list row of an inspection (``InspectionRow``): what was taken and its headline."""
    sample = None
    if inspection.sample_seed is not None:
        sample = {
            "ratio": inspection.sample_ratio,
            "size": inspection.sample_size,
            "seed": inspection.sample_seed,
            "method": SAMPLE_METHOD,
        }
    return {
        "id": inspection.id,
        "name": inspection.name,
        "at": inspection.at,
        "scope": json.loads(inspection.scope),
        "sample": sample,
        "accounts_in_scope": inspection.accounts_in_scope,
        "sampled": inspection.sampled,
        "checked": inspection.checked,
        "passing": inspection.passing,
        "pass_rate": figures.rate(inspection.passing, inspection.checked),
        "previous_id": inspection.previous_id,
        "created_at": inspection.created_at,
        "created_by": inspection.created_by,
    }


async def result(session: AsyncSession, inspection: Inspection) -> dict[str, Any]:
    """The whole result and the bulletin's figures (``InspectionResult``), from frozen rows.

    The figures are computed in a worker thread: for tens of thousands of accounts they take
    a second, which the event loop spends answering other requests instead."""
    assert inspection.id is not None
    accounts = await read_frozen(session, inspection.id)
    previous: tuple[dict[str, Any], list[FrozenAccount]] | None = None
    if inspection.previous_id is not None:
        found = await session.get(Inspection, inspection.previous_id)
        if found is not None and found.id is not None:
            meta = {"id": found.id, "name": found.name, "at": found.at}
            previous = (meta, await read_frozen(session, found.id))
    return await asyncio.to_thread(_result, inspection, accounts, previous)


def _result(
    inspection: Inspection,
    accounts: list[FrozenAccount],
    previous: tuple[dict[str, Any], list[FrozenAccount]] | None,
) -> dict[str, Any]:
    # The headline was counted from these rows when they were frozen (service.take).
    grouped = figures.groups(accounts)
    in_scope, checked, passing = (
        inspection.accounts_in_scope,
        inspection.checked,
        inspection.passing,
    )
    return row_data(inspection) | {
        "failing": checked - passing,
        "pass_rate_percent": figures.percent(passing, checked),
        "sample_share": round(inspection.sampled / in_scope, 4) if in_scope else None,
        "labels": dict(FLAG_LABELS),
        "flag_counts": figures.headline(accounts).flag_counts,
        "groups": grouped,
        "full_pass": figures.full_pass(grouped),
        "problems": figures.problems(accounts),
        "accounts": [figures.account_data(a) for a in accounts],
        "rectification": previous and figures.rectification(previous[0], previous[1], accounts),
    }


async def delete(session: AsyncSession, inspection: Inspection, principal: Principal) -> None:
    """Delete an inspection and its frozen rows (admins only, audited). One that a later
    inspection measures its rectification against stays (409): that bulletin would change."""
    later = select(col(Inspection.id)).where(col(Inspection.previous_id) == inspection.id)
    if (found := (await session.exec(later.limit(1))).first()) is not None:
        raise Problem(
            409,
            f"inspection {found} measures its rectification against this one; delete it first",
        )
    detail = {"name": inspection.name, "at": inspection.at, "scope": json.loads(inspection.scope)}
    await session.delete(inspection)  # the frozen rows go with it (ON DELETE CASCADE)
    record(session, principal, "inspection.delete", f"inspection:{inspection.id}", detail)
