"""The summary from the per-group counters SQLite's triggers keep (``report_tally``), and
from their checkpoints at past times (``report_checkpoint``).

As of now the counters are the answer. As of another time point (监测时间点) the counters, or
the checkpoint nearest to it, are the answer for every account that did not change in
between: an account registered, first checked and with no flag opened or resolved between
``at`` and the checkpoint counts the same at both. So ``summary_at`` takes the base with the
fewest changed accounts (the counters as of now, or the checkpoint just before or just after
``at``) and replaces the share of each changed account by what it counted at ``at``, from
its flag history. That reads a few thousand counter rows plus the changed accounts, instead
of every open flag joined to its account. When more than ``MAX_CHANGED`` accounts changed,
``summary_at`` gives None and the caller reads flag history (``service.summary``), which
gives the same figures (tests/reports/test_tally.py and test_checkpoints.py check both).
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
from app.reports.models import (
    COUNTER_COLUMNS,
    report_checkpoint,
    report_checkpoint_time,
    report_tally,
)
from app.reports.service import CODES, GROUP_COLUMNS, GroupCounts, ReadSessions, open_at

__all__ = ["MAX_CHANGED", "flags_open_at", "from_tally", "summary_at"]

# Above this many accounts changed since ``at``, flag history is the faster read (measured at
# 100,000 accounts in bench/README.md, "Flags and reports").
MAX_CHANGED = 3_000
_COUNTS = list(COUNTER_COLUMNS)
_BITS = [FLAG_BITS[code] for code in CODES]
# Counts of one group: total, checked, failing, then the accounts with each flag open.
Counts = list[int]


def _in_scope(
    table: sa.Table, scope_prefix: str | None, grouping: str, base: datetime | None
) -> list[ColumnElement[bool]]:
    conditions = [table.c.grouping == grouping]
    if base is not None:
        conditions.append(table.c.taken_at == base)
    if scope_prefix:
        conditions.append(table.c.region_code.startswith(scope_prefix, autoescape=True))
    return conditions


def _counters_of(base: datetime | None) -> sa.Table:
    return report_tally if base is None else report_checkpoint


def _tally_query(group_by: str, scope_prefix: str | None, base: datetime | None) -> Select[Any]:
    # The primary key ([taken_at,] grouping, key, region_code) gives the groups in order.
    table = _counters_of(base)
    return (
        sa.select(table.c.key, *(func.sum(table.c[c]) for c in _COUNTS))
        .where(*_in_scope(table, scope_prefix, group_by, base))
        .group_by(table.c.key)
        .order_by(table.c.key)
    )


def _names_query(scope_prefix: str | None, base: datetime | None) -> Select[Any]:
    # How many active accounts each region code has under each name: the summary names a
    # region by the greatest, as max(region_name) over the accounts does.
    table = _counters_of(base)
    return sa.select(table.c.region_code, table.c.key, table.c.total).where(
        *_in_scope(table, scope_prefix, "region_name", base), table.c.total > 0
    )


async def _read_counters(
    connection: AsyncConnection,
    group_by: str,
    scope_prefix: str | None,
    base: datetime | None = None,
) -> tuple[dict[str, Counts], dict[tuple[str, str], int]]:
    rows = (await connection.execute(_tally_query(group_by, scope_prefix, base))).all()
    counts = {key: list(figures) for key, *figures in rows}
    names: dict[tuple[str, str], int] = {}
    if group_by == "region":
        for code, name, total in await connection.execute(_names_query(scope_prefix, base)):
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
    # In key order, as the other reads give them: a correction may add groups at the end
    # (timsort takes the already ordered rest in one pass).
    for key, (total, checked, failing, *flags) in sorted(counts.items()):
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


def _changed_between(at: datetime, base: datetime | None) -> list[Select[Any]]:
    """The accounts whose share differs between ``at`` and ``base`` (None: now): each arm is
    a range search of its own index (ix_account_created_at, …)."""
    low, high = (at, base) if base is None or at <= base else (base, at)

    def within(column: Any) -> ColumnElement[bool]:
        return column > low if high is None else and_(column > low, column <= high)

    return [
        sa.select(col(Account.id)).where(within(col(Account.created_at))),
        sa.select(col(Account.id)).where(within(col(Account.first_checked_at))),
        sa.select(col(Flag.account_id)).where(within(col(Flag.opened_at))),
        sa.select(col(Flag.account_id)).where(within(col(Flag.resolved_at))),
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


def flags_open_at(times: list[datetime], accounts: Select[Any] | None = None) -> sa.Subquery:
    """Per account with a flag (of ``accounts``, or all), for each of ``times`` (i = 0, 1 …):
    1 in ``veto_i`` when a single-veto flag was open then, and in ``<code>_i`` for each code
    open then. One pass over the flags, however many times."""
    opened_by = max(times)
    if accounts is None:  # every flag: one pass in account order (no-op: see open_at)
        conditions = [func.coalesce(col(Flag.opened_at), None) <= opened_by]
    else:
        conditions = [col(Flag.account_id).in_(accounts), col(Flag.opened_at) <= opened_by]
    columns: list[Any] = [col(Flag.account_id).label("account_id")]
    for i, at in enumerate(times):
        is_open = open_at(at)
        columns.append(
            func.max(case((and_(is_open, col(Flag.veto).is_(True)), 1), else_=0)).label(f"veto_{i}")
        )
        columns.extend(
            func.max(case((and_(is_open, col(Flag.code) == c), 1), else_=0)).label(f"{c}_{i}")
            for c in CODES
        )
    return sa.select(*columns).where(*conditions).group_by(col(Flag.account_id)).subquery()


def shares_at(
    at: datetime, flags: sa.Subquery, i: int = 0
) -> tuple[ColumnElement[bool], ColumnElement[bool], list[ColumnElement[bool]]]:
    """What an account counts at ``at`` (``flags`` time ``i``): registered, checked, then
    failing and each code open (the conditions to count)."""
    registered = col(Account.created_at) <= at
    checked = and_(registered, col(Account.first_checked_at) <= at)
    failing = and_(checked, flags.c[f"veto_{i}"] == 1)
    codes = [and_(registered, flags.c[f"{c}_{i}"] == 1) for c in CODES]
    return registered, checked, [failing, *codes]


def _delta_query(
    keys: list[Any],
    at: datetime,
    changed: Select[Any],
    scope_prefix: str | None,
    base: datetime | None,
) -> Select[Any]:
    """Per group of the changed accounts: what they counted at ``at`` (from flag history)
    minus what they count in the base: now (the open-flag mirror), or a checkpoint's time
    (flag history again)."""
    flags = flags_open_at([at] if base is None else [at, base], changed)
    registered, checked, counted = shares_at(at, flags)
    if base is None:
        checked_now = col(Account.first_checked_at).is_not(None)
        mask = col(Account.open_flags)
        base_registered: ColumnElement[Any] = sa.true()
        base_checked: ColumnElement[Any] = checked_now
        base_counted = [
            and_(checked_now, col(Account.veto_open).is_(True)),
            *(mask.op("&")(bit) != 0 for bit in _BITS),
        ]
    else:
        base_registered, base_checked, base_counted = shares_at(base, flags, 1)
    figures = [
        _count(registered) - _count(base_registered),
        _count(checked) - _count(base_checked),
        *(_count(a) - _count(b) for a, b in zip(counted, base_counted, strict=True)),
    ]
    # The no-ops on status and the keys leave SQLite one way in, the changed ids by rowid:
    # it would rather scan an index of every active account, in group order to save a sort
    # (25 ms against 2). The columns are NOT NULL, so the values are the same.
    keys = [func.coalesce(key, "") for key in keys]
    population = [col(Account.id).in_(changed), func.coalesce(col(Account.status), "") == "active"]
    if scope_prefix:
        population.append(col(Account.region_code).startswith(scope_prefix, autoescape=True))
    return (
        sa.select(*keys, *figures)
        .select_from(Account)
        .outerjoin(flags, flags.c.account_id == col(Account.id))
        .where(*population)
        .group_by(*keys)
    )


async def _nearest_base(
    connection: AsyncConnection, at: datetime
) -> tuple[datetime | None, list[Select[Any]], int]:
    """Of the checkpoints just before and after ``at`` and now, the base with the fewest
    accounts changed in between: its time (None: now), the queries of those accounts and a
    bound on their number (at most MAX_CHANGED + 1 per arm)."""
    times = report_checkpoint_time.c.taken_at
    before, after = (
        await connection.execute(
            sa.select(
                sa.select(func.max(times)).where(times <= at).scalar_subquery(),
                sa.select(func.min(times)).where(times >= at).scalar_subquery(),
            )
        )
    ).one()
    # What changed between ``at`` and a checkpoint after it changed by now too: the
    # counters as of now are a candidate only when no checkpoint follows ``at``.
    candidates = [base for base in (before, after) if base is not None]
    if after is None:
        candidates.append(None)
    best: tuple[datetime | None, list[Select[Any]], int] | None = None
    for base in candidates:
        arms = _changed_between(at, base)
        bound = await connection.scalar(_changed_bound(arms)) or 0
        if best is None or bound < best[2]:
            best = (base, arms, bound)
        if bound == 0:
            break
    assert best is not None
    return best


async def summary_at(
    read: ReadSessions, group_by: str, at: datetime, scope_prefix: str | None
) -> tuple[list[GroupCounts], GroupCounts] | None:
    """The summary as of a past ``at`` from the counters or the nearest checkpoint, correcting
    the accounts changed in between; None when more than ``MAX_CHANGED`` may have changed
    (read flag history instead)."""
    async with read() as session:
        connection = await session.connection()
        # One read transaction: the counters and the changed accounts are one snapshot.
        base, arms, bound = await _nearest_base(connection, at)
        if bound > MAX_CHANGED:
            return None
        counts, names = await _read_counters(connection, group_by, scope_prefix, base)
        if bound == 0:  # nothing changed in between
            return _build(counts, names)
        # A CTE, used twice in the query: SQLite works the union out once.
        changed = sa.select(sa.union(*arms).cte("changed").c[0])
        key = col(GROUP_COLUMNS[group_by])
        for group, *delta in await connection.execute(
            _delta_query([key], at, changed, scope_prefix, base)
        ):
            current = counts.setdefault(group, [0] * len(_COUNTS))
            for i, value in enumerate(delta):
                current[i] += value
        if group_by == "region":
            by_name = [col(Account.region_code), col(Account.region_name)]
            delta_query = _delta_query(by_name, at, changed, scope_prefix, base)
            for code, name, total, *_rest in await connection.execute(delta_query):
                names[code, name] = names.get((code, name), 0) + total
    return _build(counts, names)
