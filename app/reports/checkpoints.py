"""Checkpoints of the summary counters at past times (SQLite), so a past time point's summary
reads a few thousand counter rows and the accounts changed since the nearest checkpoint,
instead of every flag open then (app/reports/past.py).

A checkpoint is taken at midnight in China (the bulletins' 监测时间点 are dates there): daily
for the last ``DAILY_DAYS`` days, then on Mondays and the 1st of each month for
``WEEKLY_DAYS``. It is worked out from flag history ``MARGIN`` after its time, so the checks
and flags of that moment have been written, and it counts today's registry as it stood
then: triggers on ``account`` move an account's share of every checkpoint when its status or
a group key changes (revision e5a1c9d2f7b4). Writes dated before a checkpoint but made after
it was taken (a back-dated import) are not in it; ``maintain(..., retake=True)`` (the CLI's
``liveness checkpoints --retake``) works every checkpoint out again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import case, func, literal
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app.accounts.models import Account
from app.db import Database, UTCDateTime
from app.reports.models import COUNTER_COLUMNS, report_checkpoint, report_checkpoint_time
from app.reports.past import flags_open_at, shares_at

__all__ = [
    "DAILY_DAYS",
    "GROUPINGS",
    "MARGIN",
    "PER_RUN",
    "WEEKLY_DAYS",
    "due_times",
    "maintain",
    "take",
]

CHINA = ZoneInfo("Asia/Shanghai")
# A checkpoint is ~9,200 rows (~0.8 MB) at 100,000 accounts in 4,000 organisations: daily
# for four months, then weekly and monthly for two years: ~230 of them (~180 MB). Between two
# daily ones ~12 hours of changes are corrected (~170 accounts in the bench), between two
# weekly ones up to 3.5 days (~2,300): the correction costs ~10 µs of SQL per account.
DAILY_DAYS = 120
WEEKLY_DAYS = 2 * 366
MARGIN = timedelta(hours=1)
# Checkpoints worked out per run (~0.6 s each at 100,000 accounts, one write transaction
# each): on a long history the ~230 fill in over a day of hourly runs.
PER_RUN = 12
# The groupings a checkpoint row is keyed by, and the account column of each one's key.
GROUPINGS: dict[str, Any] = {
    "region": col(Account.region_code),
    "organization": col(Account.organization),
    "department": col(Account.department),
    "platform": col(Account.platform),
    "region_name": col(Account.region_name),
}


def due_times(now: datetime) -> list[datetime]:
    """The checkpoint times that should exist at ``now``, newest first (aware UTC)."""
    latest = now - MARGIN
    midnight = latest.astimezone(CHINA).replace(hour=0, minute=0, second=0, microsecond=0)
    days = {midnight - timedelta(days=d) for d in range(DAILY_DAYS + 1)}
    monday = midnight - timedelta(days=midnight.weekday())
    days |= {monday - timedelta(weeks=w) for w in range(WEEKLY_DAYS // 7 + 1)}
    # Month ends too (the 1st at 00:00): the time points of monthly and quarterly bulletins
    # then read one checkpoint as it is.
    month = midnight.replace(day=1)
    while latest - month <= timedelta(days=WEEKLY_DAYS):
        days.add(month)
        month = (month - timedelta(days=1)).replace(day=1)
    oldest = latest - timedelta(days=WEEKLY_DAYS)
    return sorted((d.astimezone(UTC) for d in days if oldest <= d <= latest), reverse=True)


def _from_history(at: datetime) -> sa.CompoundSelect[Any]:
    """The summary's figures at ``at`` per grouping, group key and region code, from flag
    history: one pass over the accounts into cells of all five keys, then a sum per grouping
    (a pass per grouping cost five times as much: ~1.3 s at 100,000 accounts)."""
    then = flags_open_at([at], at)
    _registered, checked, counted = shares_at(at, then)
    shares = [checked, *counted]
    keys: list[Any] = [column.label(grouping) for grouping, column in GROUPINGS.items()]
    cells = (
        sa.select(
            *keys,
            func.count().label(COUNTER_COLUMNS[0]),
            *(
                func.sum(case((share, 1), else_=0)).label(name)
                for share, name in zip(shares, COUNTER_COLUMNS[1:], strict=True)
            ),
        )
        .select_from(Account)
        .outerjoin(then, then.c.account_id == col(Account.id))
        .where(col(Account.status) == "active", col(Account.created_at) <= at)
        .group_by(*keys)
        .cte("cells")
    )
    sums = [func.sum(cells.c[name]) for name in COUNTER_COLUMNS]
    return sa.union_all(
        *(
            sa.select(
                literal(at, UTCDateTime),
                literal(grouping),
                cells.c[grouping],
                cells.c.region,
                *sums,
            ).group_by(cells.c[grouping], cells.c.region)
            for grouping in GROUPINGS
        )
    )


async def take(session: AsyncSession, at: datetime) -> None:
    """Work out the checkpoint at ``at`` from flag history, replacing one already there."""
    await drop(session, [at])
    connection = await session.connection()
    await connection.execute(sa.insert(report_checkpoint_time).values(taken_at=at))
    names = ["taken_at", "grouping", "key", "region_code", *COUNTER_COLUMNS]
    await connection.execute(sa.insert(report_checkpoint).from_select(names, _from_history(at)))


async def drop(session: AsyncSession, times: list[datetime]) -> None:
    """Delete the checkpoints at ``times``."""
    if times:
        connection = await session.connection()
        await connection.execute(
            sa.delete(report_checkpoint).where(report_checkpoint.c.taken_at.in_(times))
        )
        await connection.execute(
            sa.delete(report_checkpoint_time).where(report_checkpoint_time.c.taken_at.in_(times))
        )


async def maintain(
    database: Database, now: datetime, *, limit: int = PER_RUN, retake: bool = False
) -> int:
    """Drop the checkpoints no longer due and take up to ``limit`` missing ones, newest
    first (``retake``: all due ones again). Returns how many were taken. SQLite only: on
    PostgreSQL the summary reads no counters."""
    if not database.is_sqlite:
        return 0
    due = due_times(now)
    async with database.write_session(queued=True) as session:
        connection = await session.connection()
        existing = set((await connection.execute(sa.select(report_checkpoint_time))).scalars())
        await drop(session, sorted(existing - set(due)))
    missing = [t for t in due if retake or t not in existing][:limit]
    for at in missing:
        async with database.write_session(queued=True) as session:
            await take(session, at)
    return len(missing)
