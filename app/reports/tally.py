"""The per-group counters SQLite's triggers keep (``report_tally``), and their checkpoints at
past times (``report_checkpoint``): reading them into a summary.

As of now the counters are the answer (``from_tally``). A past time point (监测时间点) reads
the counters or a checkpoint and corrects them for the accounts changed in between
(app/reports/past.py).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Select, func
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import UTCDateTime
from app.reports.models import (
    COUNTER_COLUMNS,
    report_checkpoint,
    report_tally,
)
from app.reports.service import CODES, GroupCounts, ReadSessions

__all__ = ["BASE", "Counts", "build", "from_tally", "read_counters"]

# Counts of one group: total, checked, failing, then the accounts with each flag open.
Counts = list[int]
# The checkpoint's time as a bound parameter: one statement per shape, built and cached once.
BASE = sa.bindparam("base", type_=UTCDateTime)


def _in_scope(
    table: sa.Table, scope_prefix: str | None, grouping: str
) -> list[ColumnElement[bool]]:
    conditions = [table.c.grouping == grouping]
    if table is report_checkpoint:
        conditions.append(table.c.taken_at == BASE)
    if scope_prefix:
        conditions.append(table.c.region_code.startswith(scope_prefix, autoescape=True))
    return conditions


def _counters_of(at_checkpoint: bool) -> sa.Table:
    return report_checkpoint if at_checkpoint else report_tally


# Groupings with a few keys, each in many regions: their rows are summed in SQL (40
# departments in 100 regions: 3 ms, against 11 summed in Python). The others (organisation,
# region) have about one row per key, read plainly: 4,000 organisations 10 ms, against 15.
_SUMMED_IN_SQL = frozenset({"department", "platform"})


@lru_cache(maxsize=256)
def _counters_query(group_by: str, scope_prefix: str | None, at_checkpoint: bool) -> Select[Any]:
    """The counter rows of one grouping (a key has one per region code): now, or
    ``at_checkpoint`` the one whose time is the parameter ``base``."""
    table = _counters_of(at_checkpoint)
    conditions = _in_scope(table, scope_prefix, group_by)
    if group_by in _SUMMED_IN_SQL:
        sums = (func.sum(table.c[c]) for c in COUNTER_COLUMNS)
        return sa.select(table.c.key, *sums).where(*conditions).group_by(table.c.key)
    return sa.select(table.c.key, *(table.c[c] for c in COUNTER_COLUMNS)).where(*conditions)


@lru_cache(maxsize=256)
def _names_query(scope_prefix: str | None, at_checkpoint: bool) -> Select[Any]:
    """How many active accounts each region code has under each name: the summary names a
    region by the greatest, as max(region_name) over the accounts does."""
    table = _counters_of(at_checkpoint)
    return sa.select(table.c.region_code, table.c.key, table.c.total).where(
        *_in_scope(table, scope_prefix, "region_name"), table.c.total > 0
    )


async def read_counters(
    connection: AsyncConnection,
    group_by: str,
    scope_prefix: str | None,
    base: datetime | None = None,
) -> tuple[dict[str, Counts], dict[tuple[str, str], int]]:
    """The counters of each group and of each region's names, now or at checkpoint ``base``."""
    params = {} if base is None else {"base": base}
    query = _counters_query(group_by, scope_prefix, base is not None)
    counts: dict[str, Counts] = {}
    for key, *figures in await connection.execute(query, params):
        summed = counts.get(key)
        if summed is None:
            counts[key] = figures
        else:  # the same key in another region (read unsummed)
            for i, value in enumerate(figures):
                summed[i] += value
    names: dict[tuple[str, str], int] = {}
    if group_by == "region":
        named = _names_query(scope_prefix, base is not None)
        for code, name, total in await connection.execute(named, params):
            names[code, name] = total
    return counts, names


def build(
    counts: dict[str, Counts], names: dict[tuple[str, str], int]
) -> tuple[list[GroupCounts], GroupCounts]:
    """The summary's groups (those with accounts, in key order) and totals from counters."""
    region_names: dict[str, str] = {}
    for (code, name), total in names.items():
        if total > 0 and (code not in region_names or name > region_names[code]):
            region_names[code] = name
    groups = []
    kept: list[Counts] = []
    passing_total = 0
    # In key order, as the other reads give them: a correction may add groups at the end
    # (timsort takes the already ordered rest in one pass). Plain loops and positional
    # arguments: 4,000 organisations pass through here per request.
    for key, figures in sorted(counts.items()):
        total, checked, failing = figures[0], figures[1], figures[2]
        if total <= 0:  # counters of groups whose accounts have all gone stay at zero
            continue
        passing = checked - failing if checked > failing else 0
        passing_total += passing
        kept.append(figures)
        # Not strict: the counter columns are the codes, and the check costs ~1 ms here.
        flags = dict(zip(CODES, figures[3:], strict=False))
        groups.append(GroupCounts(key, region_names.get(key), total, checked, passing, flags))
    totals = GroupCounts(key=None, name=None)
    if kept:
        # The totals are column sums of the kept counters.
        sums = [sum(column) for column in zip(*kept, strict=True)]
        totals.total, totals.checked, totals.passing = sums[0], sums[1], passing_total
        totals.flags = dict(zip(CODES, sums[3:], strict=True))
    return groups, totals


async def from_tally(
    read: ReadSessions, group_by: str, scope_prefix: str | None
) -> tuple[list[GroupCounts], GroupCounts]:
    """The summary as of now, from the counters (SQLite only: PostgreSQL leaves them empty)."""
    async with read() as session:
        counts, names = await read_counters(await session.connection(), group_by, scope_prefix)
    return build(counts, names)
