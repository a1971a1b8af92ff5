"""Queries and changes of check history and platform health. Callers commit."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.accounts.models import Account
from app.checks.models import CheckResult, PlatformHealth
from monitors import Observation

__all__ = [
    "delete_older_than",
    "get_health",
    "last_check_per_platform",
    "list_checks",
    "outcome_counts_since",
    "record_observations",
    "set_health",
]

_RECENT_POSTS_KEPT = 5


def _evidence_json(obs: Observation) -> str:
    evidence: dict[str, Any] = dataclasses.asdict(obs.evidence)
    evidence["recent_posts"] = [
        {
            "id": post.id,
            "published_at": post.published_at.isoformat() if post.published_at else None,
            "title": post.title,
            "url": post.url,
            "pinned": post.pinned,
        }
        for post in obs.recent_posts[:_RECENT_POSTS_KEPT]
    ]
    return json.dumps(evidence, ensure_ascii=False)


def _text(value: str | None, limit: int) -> str | None:
    # Upstream text may carry NUL, which PostgreSQL refuses in text columns: one such name
    # would fail every check of the batch it is written with, again at each retry.
    return value.replace("\x00", "")[:limit] or None if value else None


def _check_values(account: Account, obs: Observation) -> dict[str, Any]:
    assert account.id is not None
    return {
        "account_id": account.id,
        "platform": account.platform,
        "checked_at": obs.observed_at,
        "outcome": obs.outcome.value,
        "outcome_class": obs.outcome.outcome_class.value,
        "http_status": obs.evidence.http_status,
        "last_post_at": obs.last_post_at,
        "followers": obs.followers,
        "post_count": obs.post_count,
        "verified": obs.verified,
        "display_name": _text(obs.display_name, 200),
        "elapsed_ms": obs.elapsed_ms,
        "evidence": _evidence_json(obs),
        "error": _text(obs.error, 500),
    }


def _update_snapshot(account: Account, obs: Observation) -> None:
    """The snapshot keeps the last known counts and dates: an unknown answer changes only
    last_checked_at and last_outcome."""
    account.last_checked_at = obs.observed_at
    if account.first_checked_at is None:
        account.first_checked_at = obs.observed_at
    account.last_outcome = obs.outcome.value
    if obs.outcome.is_alive:
        if obs.last_post_at is not None:
            account.last_post_at = obs.last_post_at
        for field, value in (
            ("followers", obs.followers),
            ("post_count", obs.post_count),
            ("verified", obs.verified),
            ("observed_name", _text(obs.display_name, 200)),
        ):
            if value is not None:
                setattr(account, field, value)


async def record_observations(
    session: AsyncSession, observed: Sequence[tuple[Account, Observation]]
) -> list[CheckResult]:
    """Insert a check row for each (account, observation), in order, and update each
    account's snapshot (not its schedule). Returns the rows as stored, ids included.

    One multi-row insert for the batch rather than ORM objects: storing is on the path of
    every check, and the rules read the rows back from the database anyway.
    """
    if not observed:
        return []
    values = [_check_values(account, obs) for account, obs in observed]
    table = CheckResult.__table__  # type: ignore[attr-defined]
    statement = insert(table).returning(table.c.id, table.c.account_id, table.c.checked_at)
    connection = await session.connection()
    ids = {(a, at): i for i, a, at in (await connection.execute(statement, values)).all()}
    for account, obs in observed:
        _update_snapshot(account, obs)
        session.add(account)
    return [CheckResult(id=ids[(v["account_id"], v["checked_at"])], **v) for v in values]


async def list_checks(
    session: AsyncSession,
    *,
    account_id: int | None = None,
    platform: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    scope_prefix: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[CheckResult]:
    """Check rows, newest first, filtered; a region scope joins the account table."""
    query = select(CheckResult).order_by(col(CheckResult.id).desc()).limit(limit)
    if account_id is not None:
        query = query.where(CheckResult.account_id == account_id)
    if platform:
        query = query.where(CheckResult.platform == platform)
    if outcome:
        query = query.where(CheckResult.outcome == outcome)
    if since is not None:
        query = query.where(col(CheckResult.checked_at) >= since)
    if before_id is not None:
        query = query.where(col(CheckResult.id) < before_id)
    if scope_prefix:
        query = query.join(Account, col(Account.id) == col(CheckResult.account_id)).where(
            col(Account.region_code).startswith(scope_prefix, autoescape=True)
        )
    return list((await session.exec(query)).all())


async def outcome_counts_since(
    session: AsyncSession, since: datetime, *, scope_prefix: str | None = None
) -> dict[str, dict[str, int]]:
    """Per platform, how many checks (of accounts in the scope) ended in each outcome since
    ``since``."""
    query = (
        select(col(CheckResult.platform), col(CheckResult.outcome), func.count())
        .where(col(CheckResult.checked_at) >= since)
        .group_by(col(CheckResult.platform), col(CheckResult.outcome))
    )
    if scope_prefix:
        query = query.join(Account, col(Account.id) == col(CheckResult.account_id)).where(
            col(Account.region_code).startswith(scope_prefix, autoescape=True)
        )
    counts: dict[str, dict[str, int]] = {}
    for platform, outcome, count in (await session.exec(query)).all():
        counts.setdefault(platform, {})[outcome] = count
    return counts


async def last_check_per_platform(session: AsyncSession) -> dict[str, datetime]:
    """When each platform last had a check stored."""
    query = select(col(CheckResult.platform), func.max(col(CheckResult.checked_at))).group_by(
        col(CheckResult.platform)
    )
    return {platform: at for platform, at in (await session.exec(query)).all() if at}


async def delete_older_than(session: AsyncSession, cutoff: datetime, batch: int = 5000) -> int:
    """Delete up to ``batch`` check rows older than ``cutoff``; returns how many went."""
    oldest = (
        select(col(CheckResult.id))
        .where(col(CheckResult.checked_at) < cutoff)
        .order_by(col(CheckResult.id))
        .limit(batch)
    )
    connection = await session.connection()
    result = await connection.execute(
        delete(CheckResult).where(col(CheckResult.id).in_(oldest.scalar_subquery()))
    )
    return int(result.rowcount or 0)


async def get_health(session: AsyncSession) -> dict[str, PlatformHealth]:
    """Every platform's stored health, keyed by platform."""
    return {h.platform: h for h in (await session.exec(select(PlatformHealth))).all()}


async def set_health(
    session: AsyncSession, platform: str, *, degraded: bool | None, reason: str, now: datetime
) -> tuple[PlatformHealth, bool]:
    """Record a canary verdict (None: inconclusive). Returns the row and whether the degraded
    state changed."""
    health = await session.get(PlatformHealth, platform)
    if health is None:
        health = PlatformHealth(platform=platform, degraded=False, reason="", changed_at=now)
    health.last_canary_at = now
    changed = degraded is not None and degraded != health.degraded
    if changed and degraded is not None:
        health.degraded = degraded
        health.changed_at = now
        health.reason = reason[:300]
    session.add(health)
    return health, changed


def retention_cutoff(now: datetime, days: int) -> datetime:
    """The oldest check time kept."""
    return now - timedelta(days=days)
