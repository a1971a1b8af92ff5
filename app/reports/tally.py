"""The summary from the per-group counters SQLite's triggers keep (``report_tally``).

As of now the counters are the answer. As of a recent time point (监测时间点) they are the
answer for every account that has not changed since: an account registered by then, first
checked by then (or not yet), with no flag opened or resolved since, counts the same then as
now. So ``summary_at`` takes the counters and replaces the contribution of each account that
did change (registered, first checked, or a flag opened or resolved after ``at``) by what it
counted at ``at``, from its flag history. That reads a few thousand counter rows plus the
changed accounts, instead of every open flag joined to its account. When more than
``MAX_CHANGED`` accounts changed, ``summary_at`` gives None and the caller reads flag history
(``service.summary``), which gives the same figures (tests/reports/test_tally.py checks both).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Select, and_, case, func
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from app.accounts.models import Account
from app.flags.models import Flag
from app.flags.policy import FLAG_BITS
from app.reports.models import report_tally
from app.reports.service import CODES, GROUP_COLUMNS, GroupCounts, ReadSessions, open_at

__all__ = ["MAX_CHANGED", "from_tally", "summary_at"]

# Above this many accounts changed since ``at``, flag history is the faster read (measured at
# 100,000 accounts in bench/README.md, "Flags and reports").
MAX_CHANGED = 3_000
_COUNTS = ["total", "checked", "failing", *(f"open_{code}" for code in CODES)]
_BITS = [FLAG_BITS[code] for code in CODES]
# Counts of one group: total, checked, failing, then the accounts with each flag open.
Counts = list[int]


def _in_scope(scope_prefix: str | None, grouping: str) -> list[ColumnElement[bool]]:
    tally = report_tally.c
    conditions = [tally.grouping == grouping]
    if scope_prefix:
        conditions.append(tally.region_code.startswith(scope_prefix, autoescape=True))
    return conditions


def _tally_query(group_by: str, scope_prefix: str | None) -> Select[Any]:
    # The primary key (grouping, key, region_code) gives the groups in order, no sort.
    tally = report_tally.c
    return (
        sa.select(tally.key, *(func.sum(tally[c]) for c in _COUNTS))
        .where(*_in_scope(scope_prefix, group_by))
        .group_by(tally.key)
        .order_by(tally.key)
    )


def _names_query(scope_prefix: str | None) -> Select[Any]:
    # How many active accounts each region code has under each name: the summary names a
    # region by the greatest, as max(region_name) over the accounts does.
    tally = report_tally.c
    return sa.select(tally.region_code, tally.key, tally.total).where(
        *_in_scope(scope_prefix, "region_name"), tally.total > 0
    )


async def _read_counters(
    connection: AsyncConnection, group_by: str, scope_prefix: str | None
) -> tuple[dict[str, Counts], dict[tuple[str, str], int]]:
    rows = (await connection.execute(_tally_query(group_by, scope_prefix))).all()
    counts = {key: list(figures) for key, *figures in rows}
    names: dict[tuple[str, str], int] = {}
    if group_by == "region":
        for code, name, total in await connection.execute(_names_query(scope_prefix)):
            names[code, name] = total
    return counts, names


def _build(
    counts: dict[str, Counts], names: dict[tuple[str, str], int]
) -> tuple[list[GroupCounts], GroupCounts]:
    region_names: dict[str, str] = {}
    for (code, name), total in names.items():
        if total > 0 and (code not in region_names or name > region_names[code]):
            region_names[code] = name
    groups = []
    for key, (total, checked, failing, *flags) in counts.items():
        if total <= 0:  # counters of groups whose accounts have all gone stay at zero
            continue
        groups.append(
            GroupCounts(
                key=key,
                name=region_names.get(key),
                total=total,
                checked=checked,
                passing=max(0, checked - failing),
                flags=dict(zip(CODES, flags, strict=True)),
            )
        )
    totals = GroupCounts(key=None, name=None)
    if groups:
        totals.total = sum(g.total for g in groups)
        totals.checked = sum(g.checked for g in groups)
        totals.passing = sum(g.passing for g in groups)
        # Thousands of groups (4,000 organisations): the flag totals are column sums.
        sums = [sum(column) for column in zip(*(g.flags.values() for g in groups), strict=True)]
        totals.flags = dict(zip(CODES, sums, strict=True))
    return groups, totals


async def from_tally(
    read: ReadSessions, group_by: str, scope_prefix: str | None
) -> tuple[list[GroupCounts], GroupCounts]:
    """The summary as of now, from the counters (SQLite only: PostgreSQL leaves them empty)."""
    async with read() as session:
        counts, names = await _read_counters(await session.connection(), group_by, scope_prefix)
    return _build(counts, names)


def _changed_since(at: datetime) -> list[Select[Any]]:
    # Each arm is a range search of its own index (ix_account_created_at, …).
    return [
        sa.select(col(Account.id)).where(col(Account.created_at) > at),
        sa.select(col(Account.id)).where(col(Account.first_checked_at) > at),
        sa.select(col(Flag.account_id)).where(col(Flag.opened_at) > at),
        sa.select(col(Flag.account_id)).where(col(Flag.resolved_at) > at),
    ]


def _changed_bound(arms: list[Select[Any]]) -> Select[Any]:
    # The arms' sizes, each counted no further than MAX_CHANGED + 1 index entries: a bound on
    # the accounts changed that costs little even when a past ``at`` has changed them all.
    sizes = [
        sa.select(func.count()).select_from(arm.limit(MAX_CHANGED + 1).subquery()) for arm in arms
    ]
    bound: Any = sum((size.scalar_subquery() for size in sizes[1:]), sizes[0].scalar_subquery())
    return sa.select(bound)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _delta_query(
    keys: list[Any],
    at: datetime,
    changed: Select[Any],
    scope_prefix: str | None,
) -> Select[Any]:
    """Per group of the changed accounts: what they counted at ``at`` (from flag history)
    minus what they count in the counters now (from the open-flag mirror)."""
    then = (
        sa.select(
            col(Flag.account_id).label("account_id"),
            func.max(case((col(Flag.veto).is_(True), 1), else_=0)).label("veto"),
            *(func.max(case((col(Flag.code) == c, 1), else_=0)).label(c) for c in CODES),
        )
        .where(col(Flag.account_id).in_(changed), open_at(at))
        .group_by(col(Flag.account_id))
        .subquery()
    )
    population = [col(Account.id).in_(changed), col(Account.status) == "active"]
    if scope_prefix:
        population.append(col(Account.region_code).startswith(scope_prefix, autoescape=True))
    registered = col(Account.created_at) <= at
    checked_then = and_(registered, col(Account.first_checked_at) <= at)
    checked_now = col(Account.first_checked_at).is_not(None)
    mask = col(Account.open_flags)
    figures = [
        _count(registered) - func.count(),
        _count(checked_then) - _count(checked_now),
        _count(and_(checked_then, then.c.veto == 1))
        - _count(and_(checked_now, col(Account.veto_open).is_(True))),
        *(
            _count(and_(registered, then.c[code] == 1)) - _count(mask.op("&")(bit) != 0)
            for code, bit in zip(CODES, _BITS, strict=True)
        ),
    ]
    return (
        sa.select(*keys, *figures)
        .select_from(Account)
        .outerjoin(then, then.c.account_id == col(Account.id))
        .where(*population)
        .group_by(*keys)
    )


async def summary_at(
    read: ReadSessions, group_by: str, at: datetime, scope_prefix: str | None
) -> tuple[list[GroupCounts], GroupCounts] | None:
    """The summary as of a past ``at`` from the counters, correcting the accounts changed
    since; None when more than ``MAX_CHANGED`` may have changed (read flag history instead)."""
    arms = _changed_since(at)
    changed = sa.select(sa.union(*arms).subquery().c[0])
    async with read() as session:
        connection = await session.connection()
        # One read transaction: the counters and the changed accounts are one snapshot.
        bound = await connection.scalar(_changed_bound(arms)) or 0
        if bound > MAX_CHANGED:
            return None
        counts, names = await _read_counters(connection, group_by, scope_prefix)
        if bound == 0:  # nothing changed since ``at``
            return _build(counts, names)
        key = col(GROUP_COLUMNS[group_by])
        for group, *delta in await connection.execute(
            _delta_query([key], at, changed, scope_prefix)
        ):
            current = counts.setdefault(group, [0] * len(_COUNTS))
            for i, value in enumerate(delta):
                current[i] += value
        if group_by == "region":
            by_name = [col(Account.region_code), col(Account.region_name)]
            delta_query = _delta_query(by_name, at, changed, scope_prefix)
            for code, name, total, *_rest in await connection.execute(delta_query):
                names[code, name] = names.get((code, name), 0) + total
    return _build(counts, names)
