"""Report queries: pass rates as of a time point, problem accounts, spot-check samples.

The only module with report queries. Figures come from flag history, so a report for a past
time point (监测时间点) shows them as they stood then: a flag is open at ``at`` when it opened
at or before ``at`` and was not resolved by then (resolved_at null or after ``at``). The
population is the accounts active today that were registered by ``at``; the registry keeps
no status history, so an account archived since then drops out of past reports too.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Row, Select, and_, case, exists, func, literal, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.accounts.models import Account
from app.flags.models import Flag
from app.flags.policy import FLAG_LABELS

__all__ = [
    "CODES",
    "GROUP_COLUMNS",
    "PROBLEM_CODES",
    "SAMPLE_METHOD",
    "GroupCounts",
    "ProblemFilters",
    "ReadSessions",
    "SampleSpec",
    "draw_sample",
    "problem_page",
    "rows",
    "sample_rank",
    "summary",
]

CODES: tuple[str, ...] = tuple(FLAG_LABELS)
# Shown in the problem list even where the policy does not make them single-veto.
PROBLEM_CODES: tuple[str, ...] = ("zombie", "empty_shell", "unreachable")
SAMPLE_METHOD = (
    "accounts matching the filters, ordered by the first 8 bytes (big-endian) of "
    "SHA-256('<seed>:<account id>'), ties by id; the first n are taken, "
    "n = size or ceil(ratio x population)"
)
_IN_BATCH = 500


@dataclass(slots=True)
class GroupCounts:
    """The figures of one summary group (or of the totals when ``key`` is None)."""

    key: str | None
    name: str | None
    total: int = 0
    checked: int = 0
    passing: int = 0
    flags: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CODES, 0))

    @property
    def pass_rate(self) -> float | None:
        """passing / checked, rounded to 4 places; None when nothing was checked."""
        return round(self.passing / self.checked, 4) if self.checked else None


def open_at(at: datetime | ColumnElement[Any], *, scan: bool = False) -> ColumnElement[bool]:
    """Flags open at ``at`` (a time, or a column of times), from their history.

    ``scan`` wraps opened_at and resolved_at in no-ops so SQLite cannot range-search an
    index on either (ix_flag_opened_at: every matching flag row read, in time order) and
    scans the narrow covering ix_flag_report instead, in account order.
    """
    opened_at: Any = col(Flag.opened_at)
    resolved_at: Any = col(Flag.resolved_at)
    if scan:
        opened_at, resolved_at = func.coalesce(opened_at, None), func.coalesce(resolved_at, None)
    return and_(opened_at <= at, or_(resolved_at.is_(None), resolved_at > at))


def _population(
    at: datetime, scope_prefix: str | None, *, lookup: bool = False
) -> list[ColumnElement[bool]]:
    # ``lookup``: the accounts are reached by id from the flags, so no account index may
    # look cheaper to SQLite's planner than that (without ANALYZE statistics it would scan
    # every flag once per active account).
    status = func.coalesce(col(Account.status), "") if lookup else col(Account.status)
    conditions = [status == "active", col(Account.created_at) <= at]
    if scope_prefix:
        conditions.append(col(Account.region_code).startswith(scope_prefix, autoescape=True))
    return conditions


GROUP_COLUMNS = {
    "region": Account.region_code,
    "organization": Account.organization,
    "department": Account.department,
    "platform": Account.platform,
}


ReadSessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def _totals_query(group_by: str, at: datetime, scope_prefix: str | None) -> Select[Any]:
    # Reads the covering index (status, <group>, ...) in group order: no sort, no table rows.
    key = col(GROUP_COLUMNS[group_by])
    name = func.max(col(Account.region_name)) if group_by == "region" else literal(None)
    checked = case((col(Account.first_checked_at) <= at, 1), else_=0)
    return (
        sa.select(key, name, func.count(), func.sum(checked))
        .where(*_population(at, scope_prefix))
        .group_by(key)
        .order_by(key)
    )


def _flags_query(group_by: str, at: datetime, scope_prefix: str | None) -> Select[Any]:
    # Drives from the flags (far fewer than accounts) in account order through ix_flag_report,
    # so the account look-ups walk the table forwards. The no-op on flag.account_id keeps
    # SQLite from turning the join around into one index probe per account (100,000 probes
    # instead of one look-up per open flag); PostgreSQL hash-joins either way.
    key = col(GROUP_COLUMNS[group_by])
    failing = case(
        (and_(col(Flag.veto).is_(True), col(Account.first_checked_at) <= at), col(Account.id))
    )
    return (
        sa.select(
            key,
            func.count(func.distinct(failing)),
            # Accounts, not flags: history can hold two flags of one code open at once on an
            # account (two checks decided out of order). DISTINCT costs ~25% more here.
            *(
                func.count(func.distinct(case((col(Flag.code) == c, col(Account.id)))))
                for c in CODES
            ),
        )
        .select_from(Flag)
        .join(Account, col(Account.id) == func.coalesce(col(Flag.account_id), 0))
        .where(open_at(at, scan=True), *_population(at, scope_prefix, lookup=True))
        .group_by(key)
    )


async def rows(read: ReadSessions, query: Select[Any]) -> list[Row[Any]]:
    """Run ``query`` on a read session of its own (so several can run at once)."""
    async with read() as session:
        connection = await session.connection()
        return list((await connection.execute(query)).all())


async def summary(
    read: ReadSessions,
    group_by: str,
    at: datetime,
    *,
    scope_prefix: str | None,
) -> tuple[list[GroupCounts], GroupCounts]:
    """Per-group totals, checked, passing and open-flag counts as of ``at``, plus the totals.

    For ``at`` = now, ``app/reports/current.py`` gives the same figures faster.

    Two aggregate queries, run at once on two read sessions (both cores; SQLite reads run
    side by side under WAL): the population per group, and the flags open at ``at`` per
    group (accounts per code, and checked accounts with a single-veto flag open). Passing is
    checked minus those. Nothing loops over accounts in Python, and the groups are built
    from the (shorter) population query while the flag query still runs.
    """
    no_flags = dict.fromkeys(CODES, 0)
    async with asyncio.TaskGroup() as tasks:  # an error in either query cancels the other
        flag_task = tasks.create_task(rows(read, _flags_query(group_by, at, scope_prefix)))
        groups = {
            key: GroupCounts(
                key=key,
                name=name,
                total=int(count),
                checked=int(checked or 0),
                flags=no_flags.copy(),
            )
            for key, name, count, checked in await rows(
                read, _totals_query(group_by, at, scope_prefix)
            )
        }
    failing: dict[str, int] = {}
    counted = []
    for row in flag_task.result():
        # A group with flags but no population can only appear if an account was added
        # between the two reads (at = now); it is skipped rather than shown half-counted.
        group = groups.get(row[0])
        if group is not None:
            failing[row[0]] = int(row[1] or 0)
            group.flags = dict(zip(CODES, row[2:], strict=True))  # COUNT: never NULL
            counted.append(row[2:])
    totals = GroupCounts(key=None, name=None)
    total = checked_total = passing_total = 0
    for key, group in groups.items():
        group.passing = max(0, group.checked - failing.get(key, 0))
        total += group.total
        checked_total += group.checked
        passing_total += group.passing
    totals.total, totals.checked, totals.passing = total, checked_total, passing_total
    # Thousands of groups (4,000 organisations): the flag totals are column sums.
    if counted:
        sums = [int(sum(column)) for column in zip(*counted, strict=True)]
        totals.flags = dict(zip(CODES, sums, strict=True))
    return list(groups.values()), totals


@dataclass(frozen=True, slots=True)
class ProblemFilters:
    """Narrow the problem list; each one given narrows it."""

    platform: str | None = None
    region_code: str | None = None
    organization: str | None = None
    code: str | None = None


async def problem_page(
    session: AsyncSession,
    at: datetime,
    filters: ProblemFilters,
    *,
    scope_prefix: str | None,
    limit: int,
    after_id: int | None = None,
) -> list[tuple[Account, list[Flag]]]:
    """Accounts with a prominent problem open at ``at`` (any single-veto flag, or zombie,
    empty shell, unreachable), in id order after ``after_id``, each with every flag open on
    it at ``at``."""
    problem = or_(col(Flag.veto).is_(True), col(Flag.code).in_(PROBLEM_CODES))
    flag_conditions = [col(Flag.account_id) == col(Account.id), open_at(at), problem]
    if filters.code:
        flag_conditions.append(col(Flag.code) == filters.code)
    conditions = _population(at, scope_prefix)
    if filters.region_code:
        conditions.append(col(Account.region_code).startswith(filters.region_code, autoescape=True))
    if filters.platform:
        conditions.append(col(Account.platform) == filters.platform)
    if filters.organization:
        conditions.append(col(Account.organization) == filters.organization)
    if after_id is not None:
        conditions.append(col(Account.id) > after_id)
    query = (
        select(Account)
        .where(*conditions, exists().where(*flag_conditions))
        .order_by(col(Account.id))
        .limit(limit)
    )
    accounts = list((await session.exec(query)).all())
    ids = [a.id for a in accounts]
    flags_of: dict[int, list[Flag]] = {}
    if ids:
        flags = select(Flag).where(col(Flag.account_id).in_(ids), open_at(at))
        for flag in (await session.exec(flags.order_by(col(Flag.opened_at), col(Flag.id)))).all():
            flags_of.setdefault(flag.account_id, []).append(flag)
    return [(a, flags_of.get(a.id or 0, [])) for a in accounts]


@dataclass(frozen=True, slots=True)
class SampleSpec:
    """What to draw: ``size`` accounts or ``ratio`` of them, from those matching the filters."""

    seed: int
    ratio: float | None = None
    size: int | None = None
    platform: str | None = None
    region_code: str | None = None
    organization: str | None = None
    status: str = "active"


def sample_rank(seed: int, account_id: int) -> tuple[int, int]:
    """An account's place in the sample order for ``seed``: anyone can recompute it."""
    digest = hashlib.sha256(f"{seed}:{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big"), account_id


def sample_size(spec: SampleSpec, population: int) -> int:
    """How many accounts the spec takes from ``population`` (a ratio rounds up)."""
    if spec.size is not None:
        return min(spec.size, population)
    assert spec.ratio is not None
    # Decimal, so 0.1 x 30 is 3 and not ceil(3.0000000000000004) = 4.
    return min(population, math.ceil(Decimal(str(spec.ratio)) * population))


async def draw_sample(
    session: AsyncSession, spec: SampleSpec, *, scope_prefix: str | None
) -> tuple[int, list[Account]]:
    """The population size and the sampled accounts (in id order).

    Ranks are computed in Python from the ids alone, because SQLite and PostgreSQL share no
    hash function; reading 100,000 ids and hashing them takes about a tenth of a second.
    """
    conditions: list[ColumnElement[bool]] = [col(Account.status) == spec.status]
    for prefix in (scope_prefix, spec.region_code):
        if prefix:
            conditions.append(col(Account.region_code).startswith(prefix, autoescape=True))
    if spec.platform:
        conditions.append(col(Account.platform) == spec.platform)
    if spec.organization:
        conditions.append(col(Account.organization) == spec.organization)
    ids: Sequence[int | None] = (await session.exec(select(Account.id).where(*conditions))).all()
    population = len(ids)
    ranked = sorted((i for i in ids if i is not None), key=lambda i: sample_rank(spec.seed, i))
    chosen = sorted(ranked[: sample_size(spec, population)])
    accounts: list[Account] = []
    for start in range(0, len(chosen), _IN_BATCH):
        batch = chosen[start : start + _IN_BATCH]
        query = select(Account).where(col(Account.id).in_(batch)).order_by(col(Account.id))
        accounts.extend((await session.exec(query)).all())
    return population, accounts
