"""Claiming due accounts: one short transaction that leases a batch, most overdue first.

PostgreSQL locks the chosen rows with ``FOR UPDATE SKIP LOCKED`` so concurrent schedulers
never pick the same account; SQLite gets the same exclusivity from ``BEGIN IMMEDIATE`` (the
write session). The lease token lets a worker tell that its claim is still the current one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.accounts.models import Account
from app.scheduling.models import SchedulerHeartbeat

__all__ = ["Claim", "claim_due", "count_overdue", "last_tick", "record_tick"]


@dataclass(frozen=True, slots=True)
class Claim:
    """A leased account, to be checked by whoever holds ``lease_token``."""

    account_id: int
    platform: str
    lease_token: str


def _due(now: datetime):  # type: ignore[no-untyped-def]
    return (
        col(Account.status) == "active",
        or_(col(Account.next_check_at).is_(None), col(Account.next_check_at) <= now),
        or_(col(Account.lease_until).is_(None), col(Account.lease_until) <= now),
    )


async def claim_due(
    session: AsyncSession,
    *,
    now: datetime,
    limit: int,
    lease_s: int,
    platforms: frozenset[str] | None = None,
) -> list[Claim]:
    """Lease up to ``limit`` due accounts (never-checked first, then most overdue)."""
    if limit <= 0:
        return []
    token = secrets.token_hex(8)
    chosen = (
        select(col(Account.id))
        .where(*_due(now))
        # NULLS FIRST (never checked first) rather than coalesce(): SQLite then walks the
        # (status, next_check_at) index in order and stops at ``limit`` instead of sorting
        # every due account on each tick.
        .order_by(col(Account.next_check_at).asc().nulls_first(), col(Account.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if platforms is not None:
        chosen = chosen.where(col(Account.platform).in_(sorted(platforms)))
    statement = (
        update(Account)
        .where(col(Account.id).in_(chosen.scalar_subquery()))
        .values(lease_until=now + timedelta(seconds=lease_s), lease_token=token)
        .returning(col(Account.id), col(Account.platform))
        .execution_options(synchronize_session=False)
    )
    connection = await session.connection()
    rows = (await connection.execute(statement)).all()
    return [Claim(account_id=row[0], platform=row[1], lease_token=token) for row in rows]


async def count_overdue(
    session: AsyncSession, now: datetime, *, scope_prefix: str | None = None
) -> dict[str, int]:
    """How many active accounts (in the scope) per platform are due and not leased."""
    query = (
        select(col(Account.platform), func.count())
        .where(*_due(now))
        .group_by(col(Account.platform))
    )
    if scope_prefix:
        query = query.where(col(Account.region_code).startswith(scope_prefix, autoescape=True))
    return {platform: count for platform, count in (await session.exec(query)).all()}


async def record_tick(session: AsyncSession, name: str, now: datetime, claimed: int) -> None:
    """Note that scheduler ``name`` ticked at ``now`` and claimed ``claimed`` accounts."""
    beat = await session.get(SchedulerHeartbeat, name)
    if beat is None:
        beat = SchedulerHeartbeat(name=name, ticked_at=now, claimed_total=claimed)
    else:
        beat.ticked_at = now
        beat.claimed_total += claimed
    session.add(beat)


async def last_tick(session: AsyncSession) -> datetime | None:
    """The most recent tick of any scheduler."""
    return (await session.exec(select(func.max(col(SchedulerHeartbeat.ticked_at))))).first()
