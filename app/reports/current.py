"""The summary as of now, from the open-flag mirror on each account (DESIGN §11).

The flag lifecycle keeps ``Account.open_flags`` (one bit per code) and ``veto_open`` in the
flags' own transaction (app/flags/service.py), so the current figures need no flag rows: the
per-group totals come from the covering report index, and the flag counts from a partial
index of the accounts with a flag open (about a quarter of them). Same SQL on SQLite and
PostgreSQL.

A past time point (监测时间点) comes from flag history (``service.summary``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Select, and_, case, func, literal
from sqlmodel import col

from app.accounts.models import Account
from app.flags.policy import FLAG_BITS
from app.reports.service import CODES, GROUP_COLUMNS, GroupCounts, ReadSessions
from app.reports.service import summary as service_summary

__all__ = ["summary_as_of", "summary_now"]


def _current_query(group_by: str, scope_prefix: str | None) -> Select[Any]:
    """Per group in key order: key, name, total, checked, then (None for a group with no
    flag open) failing and the accounts with each code open.

    Two aggregates merged on the key: the population from the covering report index, the
    flags from the partial index ix_account_flagged_<group> (accounts with a flag open only).
    One statement, so 4,000 organisations cross the driver once; and with both sides in key
    order PostgreSQL merge-joins two index-only scans (27 ms at 100,000 accounts, against
    52 for the two as separate queries, where it hash-aggregated a scan of the table).
    """
    key = col(GROUP_COLUMNS[group_by])
    name = func.max(col(Account.region_name)) if group_by == "region" else literal(None)
    totals = (
        sa.select(key, name, func.count(), func.count(col(Account.first_checked_at)))
        .where(*_current_population(scope_prefix))
        .group_by(key)
        .subquery("totals")
    )
    mask = col(Account.open_flags)
    failing = and_(col(Account.first_checked_at).is_not(None), col(Account.veto_open).is_(True))
    flagged = (
        sa.select(
            key,
            func.sum(case((failing, 1), else_=0)),
            *(func.sum(mask.op(">>")(bit).op("&")(1)) for bit in _BIT_POSITIONS),
        )
        # A literal 0, not a parameter: only then does the term match the partial index's
        # WHERE (SQLite and PostgreSQL both compare the text of the condition).
        .where(*_current_population(scope_prefix), mask != sa.literal(0, literal_execute=True))
        .group_by(key)
        .subquery("flagged")
    )
    group = totals.c[0]
    return (
        sa.select(*totals.c, *list(flagged.c)[1:])
        .select_from(totals.outerjoin(flagged, flagged.c[0] == group))
        .order_by(group)
    )


def _current_population(scope_prefix: str | None) -> list[ColumnElement[bool]]:
    conditions = [col(Account.status) == "active"]
    if scope_prefix:
        conditions.append(col(Account.region_code).startswith(scope_prefix, autoescape=True))
    return conditions


_BIT_POSITIONS = [FLAG_BITS[code].bit_length() - 1 for code in CODES]


async def summary_now(
    read: ReadSessions, group_by: str, scope_prefix: str | None
) -> tuple[list[GroupCounts], GroupCounts]:
    """The summary as of now: the same figures as ``service.summary`` at now (the tests check
    they agree), from one statement over two indexes of the accounts (``_current_query``)."""
    async with read() as session:
        connection = await session.connection()
        rows = (await connection.execute(_current_query(group_by, scope_prefix))).all()
    no_flags = dict.fromkeys(CODES, 0)
    groups = []
    counted = []
    total = checked_total = passing_total = 0
    # Plain loops over tuples, positional arguments, a zip not strict (the query's flag columns
    # are CODES): 4,000 organisations pass through here per request, 10 -> 7 ms this way.
    for row in rows:
        key, name, count, checked, failing = row[:5]
        if failing is None:  # no account of the group has a flag open
            passing, flags = checked, no_flags.copy()
        else:
            passing = checked - failing if checked > failing else 0
            flag_counts = row[5:]  # SUM over >= 1 row: never NULL
            flags = dict(zip(CODES, flag_counts, strict=False))
            counted.append(flag_counts)
        groups.append(GroupCounts(key, name, count, checked, passing, flags))
        total += count
        checked_total += checked
        passing_total += passing
    flag_totals = [sum(column) for column in zip(*counted, strict=True)]
    totals = GroupCounts(
        key=None,
        name=None,
        total=total,
        checked=checked_total,
        passing=passing_total,
        flags=dict(zip(CODES, flag_totals, strict=True)) if counted else no_flags.copy(),
    )
    return groups, totals


async def summary_as_of(
    read: ReadSessions,
    group_by: str,
    at: datetime | None,
    *,
    scope_prefix: str | None,
) -> tuple[list[GroupCounts], GroupCounts]:
    """The summary as of ``at`` (None: now): the accounts' open-flag mirror now, flag history
    for a past ``at``. The one read path of each (DESIGN §11)."""
    if at is None:
        return await summary_now(read, group_by, scope_prefix)
    return await service_summary(read, group_by, at, scope_prefix=scope_prefix)
