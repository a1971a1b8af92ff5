"""The summary as of now, from counters or from the open-flag mirror on each account.

The flag lifecycle keeps ``Account.open_flags`` (one bit per code) and ``veto_open`` in the
flags' own transaction (app/flags/service.py), so the current figures need no flag rows.

- On SQLite, triggers on ``account`` keep per-group counters of those (``report_tally``,
  app/reports/models.py), and the summary reads a few thousand counter rows.
- On PostgreSQL (no counters: see revision b8e4f27c9a13) it aggregates the accounts: the
  per-group totals from the covering report index, and the flag counts from a partial index
  of the accounts with a flag open (about a quarter of them).

A past time point (监测时间点) still comes from flag history in ``service.summary``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Select, and_, case, func, literal
from sqlmodel import col

from app.accounts.models import Account
from app.flags.policy import FLAG_BITS
from app.reports.models import report_tally
from app.reports.service import CODES, GROUP_COLUMNS, GroupCounts, ReadSessions

__all__ = ["summary_now"]


def _current_totals_query(group_by: str, scope_prefix: str | None) -> Select[Any]:
    key = col(GROUP_COLUMNS[group_by])
    name = func.max(col(Account.region_name)) if group_by == "region" else literal(None)
    return (
        sa.select(key, name, func.count(), func.count(col(Account.first_checked_at)))
        .where(*_current_population(scope_prefix))
        .group_by(key)
        .order_by(key)
    )


def _current_flags_query(group_by: str, scope_prefix: str | None) -> Select[Any]:
    # Reads the partial index ix_account_flagged_<group> (accounts with a flag open only).
    key = col(GROUP_COLUMNS[group_by])
    mask = col(Account.open_flags)
    failing = and_(col(Account.first_checked_at).is_not(None), col(Account.veto_open).is_(True))
    return (
        sa.select(
            key,
            func.sum(case((failing, 1), else_=0)),
            *(func.sum(mask.op(">>")(bit).op("&")(1)) for bit in _BIT_POSITIONS),
        )
        .where(*_current_population(scope_prefix), mask != sa.literal(0, literal_execute=True))
        .group_by(key)
        # SQLite takes a partial index only for a literal term, and without ANALYZE
        # statistics it may not see the partial index is the smaller one.
        .with_hint(Account, f"INDEXED BY ix_account_flagged_{group_by}", "sqlite")
    )


def _current_population(scope_prefix: str | None) -> list[ColumnElement[bool]]:
    conditions = [col(Account.status) == "active"]
    if scope_prefix:
        conditions.append(col(Account.region_code).startswith(scope_prefix, autoescape=True))
    return conditions


_BIT_POSITIONS = [FLAG_BITS[code].bit_length() - 1 for code in CODES]
_TALLY_COUNTS = ["total", "checked", "failing", *(f"open_{code}" for code in CODES)]


def _tally_query(group_by: str, scope_prefix: str | None) -> Select[Any]:
    # The primary key (grouping, key, region_code) gives the groups in order, no sort.
    tally = report_tally.c
    conditions = [tally.grouping == group_by]
    if scope_prefix:
        conditions.append(tally.region_code.startswith(scope_prefix, autoescape=True))
    return (
        sa.select(tally.key, *(func.sum(tally[c]) for c in _TALLY_COUNTS))
        .where(*conditions)
        .group_by(tally.key)
        .having(func.sum(tally.total) > 0)
        .order_by(tally.key)
    )


def _region_names_query(scope_prefix: str | None) -> Select[Any]:
    # The greatest name each region code has active accounts under, as max(region_name) over
    # the accounts gives it: the counters keep one row per (name, code).
    tally = report_tally.c
    conditions = [tally.grouping == "region_name", tally.total > 0]
    if scope_prefix:
        conditions.append(tally.region_code.startswith(scope_prefix, autoescape=True))
    return (
        sa.select(tally.region_code, func.max(tally.key))
        .where(*conditions)
        .group_by(tally.region_code)
    )


async def summary_now(
    read: ReadSessions, group_by: str, scope_prefix: str | None, *, tally: bool
) -> tuple[list[GroupCounts], GroupCounts]:
    """The summary as of now: the same figures as ``service.summary`` at now (the tests check
    they agree). ``tally``: read the counters that SQLite's triggers keep; otherwise two
    index passes over the accounts, one over the flagged accounts only."""
    if tally:
        return await _from_tally(read, group_by, scope_prefix)
    # One after the other in one read transaction (one snapshot): run at once on two
    # connections they contended for the GIL and took longer (~75 ms against ~58 ms).
    async with read() as session:
        connection = await session.connection()
        totals_rows = (
            await connection.execute(_current_totals_query(group_by, scope_prefix))
        ).all()
        flag_rows = (await connection.execute(_current_flags_query(group_by, scope_prefix))).all()
    flagged = {row[0]: row for row in flag_rows}
    no_flags = dict.fromkeys(CODES, 0)
    groups = []
    total = checked_total = passing_total = 0
    # Plain loops over tuples: thousands of groups (4,000 organisations) pass through here
    # per request; the flag totals are column sums, not per-group dict updates.
    for key, name, count, checked in totals_rows:
        found = flagged.get(key)
        if found is None:
            passing, flags = checked, no_flags.copy()
        else:
            passing = max(0, checked - (found[1] or 0))
            flags = dict(zip(CODES, found[2:], strict=True))  # SUM over >= 1 row: never NULL
        groups.append(
            GroupCounts(
                key=key, name=name, total=count, checked=checked, passing=passing, flags=flags
            )
        )
        total += count
        checked_total += checked
        passing_total += passing
    flag_totals = [sum(column) for column in zip(*(r[2:] for r in flag_rows), strict=True)]
    totals = GroupCounts(
        key=None,
        name=None,
        total=total,
        checked=checked_total,
        passing=passing_total,
        flags=dict(zip(CODES, flag_totals, strict=True)) if flag_rows else no_flags.copy(),
    )
    return groups, totals


async def _from_tally(
    read: ReadSessions, group_by: str, scope_prefix: str | None
) -> tuple[list[GroupCounts], GroupCounts]:
    async with read() as session:
        connection = await session.connection()
        found = (await connection.execute(_tally_query(group_by, scope_prefix))).all()
        names: dict[str, str] = {}
        if group_by == "region":
            named = await connection.execute(_region_names_query(scope_prefix))
            names = {code: name for code, name in named}
    groups = []
    for key, count, checked, failing, *flags in found:
        groups.append(
            GroupCounts(
                key=key,
                name=names.get(key),
                total=count,
                checked=checked,
                passing=max(0, checked - failing),
                flags=dict(zip(CODES, flags, strict=True)),
            )
        )
    totals = GroupCounts(key=None, name=None)
    if found:
        sums = [sum(column) for column in list(zip(*found, strict=True))[1:]]
        totals.total, totals.checked = sums[0], sums[1]
        totals.passing = sum(group.passing for group in groups)
        totals.flags = dict(zip(CODES, sums[3:], strict=True))
    return groups, totals
