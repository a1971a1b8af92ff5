"""A past time point's summary (监测时间点) from counters, on SQLite: the counters as of now or
a checkpoint (app/reports/tally.py), corrected for the accounts changed in between.

An account registered, first checked and with no flag opened or resolved between ``at`` and
a base time counts the same at both. So ``summary_at`` takes the base with the fewest changed
accounts (the counters as of now, or the checkpoint just before or just after ``at``) and
replaces the share of each changed account by what it counted at ``at``, from its flag
history. That reads a few thousand counter rows plus the changed accounts, instead of every
flag open at ``at`` joined to its account. When more than ``MAX_CHANGED`` accounts changed
it gives None and the caller reads flag history (``service.summary``), which gives the same
figures (tests/reports/test_tally.py and test_checkpoints.py check both).

The statements are built once per shape, with ``at`` and ``base`` as bound parameters:
building and keying them cost ~10 ms a request, more than their SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Select, and_, case, func
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from app.accounts.models import Account
from app.db import UTCDateTime
from app.flags.models import Flag
from app.flags.policy import FLAG_BITS
from app.reports.models import report_checkpoint_time
from app.reports.service import CODES, GROUP_COLUMNS, GroupCounts, ReadSessions, open_at
from app.reports.tally import BASE as _BASE
from app.reports.tally import Counts, build, read_counters

__all__ = ["MAX_CHANGED", "code_bit", "flags_open_at", "shares_at", "summary_at"]

# Above this many accounts changed, flag history is the faster read (measured at 100,000
# accounts in bench/README.md, "Flags and reports").
MAX_CHANGED = 3_000
_BITS = [FLAG_BITS[code] for code in CODES]
_CODE_BITS = {code: FLAG_BITS[code] for code in CODES}
_AT = sa.bindparam("at", type_=UTCDateTime)
# Where the base lies: the counters as of now, or a checkpoint before or after ``at``.
Kind = Literal["now", "before", "after"]
_NEIGHBOURS = sa.select(
    sa.select(func.max(report_checkpoint_time.c.taken_at))
    .where(report_checkpoint_time.c.taken_at <= _AT)
    .scalar_subquery(),
    sa.select(func.min(report_checkpoint_time.c.taken_at))
    .where(report_checkpoint_time.c.taken_at >= _AT)
    .scalar_subquery(),
)


def code_bit() -> ColumnElement[int]:
    """A flag's code as its bit in FLAG_BITS: summed DISTINCT per account, the codes open."""
    return case(_CODE_BITS, value=col(Flag.code), else_=0)


def flags_open_at(
    times: list[Any], opened_by: Any, accounts: Select[Any] | None = None
) -> sa.Subquery:
    """Per account with a flag (of ``accounts``, or all), for each of ``times`` (i = 0, 1 …):
    1 in ``veto_i`` when a single-veto flag was open then, and in ``mask_i`` the bits
    (FLAG_BITS) of the codes open then. One pass over the flags opened by ``opened_by`` (the
    latest of ``times``)."""
    if accounts is None:  # every flag: one pass in account order (no-op: see open_at)
        conditions = [func.coalesce(col(Flag.opened_at), None) <= opened_by]
    else:
        conditions = [col(Flag.account_id).in_(accounts), col(Flag.opened_at) <= opened_by]
    bit = code_bit()
    columns: list[Any] = [col(Flag.account_id).label("account_id")]
    for i, at in enumerate(times):
        is_open = open_at(at)
        veto = and_(is_open, col(Flag.veto).is_(True))
        columns.append(func.max(case((veto, 1), else_=0)).label(f"veto_{i}"))
        # DISTINCT: history may hold two flags of one code open at once (back-dated writes).
        # One mask instead of a max() per code: a quarter less SQL for a correction.
        columns.append(func.sum(sa.distinct(case((is_open, bit), else_=0))).label(f"mask_{i}"))
    return sa.select(*columns).where(*conditions).group_by(col(Flag.account_id)).subquery()


def shares_at(
    at: Any, flags: sa.Subquery, i: int = 0
) -> tuple[ColumnElement[bool], ColumnElement[bool], list[ColumnElement[bool]]]:
    """What an account counts at ``at`` (``flags`` time ``i``): registered, checked, then
    failing and each code open (the conditions to count)."""
    registered = col(Account.created_at) <= at
    checked = and_(registered, col(Account.first_checked_at) <= at)
    failing = and_(checked, flags.c[f"veto_{i}"] == 1)
    mask = flags.c[f"mask_{i}"]
    codes = [and_(registered, mask.op("&")(bit) != 0) for bit in _BITS]
    return registered, checked, [failing, *codes]


def _changed_between(low: Any, high: Any | None) -> list[Select[Any]]:
    """The accounts whose share differs between the times ``low`` and ``high`` (None: now):
    each arm is a range search of its own index (ix_account_created_at, …)."""

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
    # the accounts changed that costs little even when a far ``at`` has changed them all.
    sizes = [
        sa.select(func.count()).select_from(arm.limit(MAX_CHANGED + 1).subquery()) for arm in arms
    ]
    bound: Any = sum((size.scalar_subquery() for size in sizes[1:]), sizes[0].scalar_subquery())
    return sa.select(bound)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _delta_query(
    keys: list[Any], kind: Kind, changed: Select[Any], scope_prefix: str | None
) -> Select[Any]:
    """Per group of the changed accounts: what they counted at ``at`` (from flag history)
    minus what they count in the base: now (the open-flag mirror), or a checkpoint's time
    (flag history again)."""
    if kind == "now":
        flags = flags_open_at([_AT], _AT, changed)
        checked_now = col(Account.first_checked_at).is_not(None)
        mask = col(Account.open_flags)
        base_registered: ColumnElement[Any] = sa.true()
        base_checked: ColumnElement[Any] = checked_now
        base_counted = [
            and_(checked_now, col(Account.veto_open).is_(True)),
            *(mask.op("&")(bit) != 0 for bit in _BITS),
        ]
    else:
        flags = flags_open_at([_AT, _BASE], _BASE if kind == "after" else _AT, changed)
        base_registered, base_checked, base_counted = shares_at(_BASE, flags, 1)
    registered, checked, counted = shares_at(_AT, flags)
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


@dataclass(frozen=True, slots=True)
class _Plan:
    bound: Select[Any]
    delta: Select[Any]
    names: Select[Any] | None  # the region grouping's names, corrected the same way


@lru_cache(maxsize=256)
def _plan(group_by: str, kind: Kind, scope_prefix: str | None) -> _Plan:
    """The statements of one shape of corrected summary, built once."""
    low, high = {"now": (_AT, None), "before": (_BASE, _AT), "after": (_AT, _BASE)}[kind]
    arms = _changed_between(low, high)
    # A CTE, used twice in the correction: SQLite works the union out once.
    changed = sa.select(sa.union(*arms).cte("changed").c[0])
    names = None
    if group_by == "region":
        by_name = [col(Account.region_code), col(Account.region_name)]
        names = _delta_query(by_name, kind, changed, scope_prefix)
    delta = _delta_query([col(GROUP_COLUMNS[group_by])], kind, changed, scope_prefix)
    return _Plan(bound=_changed_bound(arms), delta=delta, names=names)


async def _nearest_base(
    connection: AsyncConnection, group_by: str, at: datetime, scope_prefix: str | None
) -> tuple[_Plan, dict[str, datetime], int]:
    """Of the checkpoints just before and after ``at`` and now, the base with the fewest
    accounts changed in between: its statements, their parameters and a bound on the
    accounts changed (at most MAX_CHANGED + 1 per arm)."""
    before, after = (await connection.execute(_NEIGHBOURS, {"at": at})).one()
    neighbours: list[tuple[Kind, datetime | None]] = [("before", before), ("after", after)]
    candidates: list[tuple[Kind, datetime | None]] = [n for n in neighbours if n[1] is not None]
    # What changed between ``at`` and a checkpoint after it changed by now too: the
    # counters as of now are a candidate only when no checkpoint follows ``at``.
    if after is None:
        candidates.append(("now", None))
    best: tuple[_Plan, dict[str, datetime], int] | None = None
    for kind, base in candidates:
        plan = _plan(group_by, kind, scope_prefix)
        params = {"at": at} if base is None else {"at": at, "base": base}
        bound = await connection.scalar(plan.bound, params) or 0
        if best is None or bound < best[2]:
            best = (plan, params, bound)
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
        plan, params, bound = await _nearest_base(connection, group_by, at, scope_prefix)
        if bound > MAX_CHANGED:
            return None
        counts, names = await read_counters(connection, group_by, scope_prefix, params.get("base"))
        if bound == 0:  # nothing changed in between
            return build(counts, names)
        for group, *delta in await connection.execute(plan.delta, params):
            current: Counts = counts.setdefault(group, [0] * len(delta))
            for i, value in enumerate(delta):
                current[i] += value
        if plan.names is not None:
            for code, name, total, *_rest in await connection.execute(plan.names, params):
                names[code, name] = names.get((code, name), 0) + total
    return build(counts, names)
