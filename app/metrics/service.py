"""The database reads behind the scrape-time gauges: one grouped query per metric.

A read model across domains, like the reports: it reads accounts, flags, deliveries and
scheduler state but never writes. Per-account rows are fetched as plain tuples (no ORM
objects), so a scrape of 100,000 accounts stays cheap.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app.accounts.models import Account
from app.checks import service as checks_service
from app.events.models import OutboxEvent
from app.events.webhook_models import WebhookDelivery, WebhookEndpoint
from app.flags.models import Flag
from app.scheduling import dispatch

__all__ = ["AccountRow", "Snapshot", "read_snapshot"]


@dataclass(frozen=True, slots=True)
class AccountRow:
    """What the per-account series need of one active account."""

    id: int
    platform: str
    organization: str
    region_code: str
    name: str
    last_post_at: datetime | None
    last_checked_at: datetime | None


@dataclass(slots=True)
class Snapshot:
    """Everything the gauges show, read in one read transaction."""

    # (platform, status, last_outcome) -> accounts
    account_states: dict[tuple[str, str, str | None], int]
    # (platform, region_code) -> (inspected, passing)
    inspection: dict[tuple[str, str], tuple[int, int]]
    # (code, platform) -> open flags
    open_flags: dict[tuple[str, str], int]
    overdue: dict[str, int]
    last_tick: datetime | None
    degraded: dict[str, bool]
    webhook_pending: int
    webhook_oldest_pending: datetime | None
    accounts: list[AccountRow]
    # (account_id, platform, code) of each open flag
    account_flags: list[tuple[int, str, str]]


async def _rows(session: AsyncSession, query: Any) -> list[Any]:
    connection = await session.connection()
    return list((await connection.execute(query)).all())


async def read_snapshot(session: AsyncSession, *, now: datetime, per_account: bool) -> Snapshot:
    """Read every gauge's figures at ``now``; per-account rows only when ``per_account``."""
    # One pass over ix_account_metrics, in its order (no sort, no table rows), feeds both
    # the accounts-by-state and the inspected/passing gauges.
    checked = col(Account.first_checked_at).is_not(None)
    grouped = await _rows(
        session,
        select(
            col(Account.status),
            col(Account.platform),
            col(Account.region_code),
            col(Account.last_outcome),
            func.count(),
            func.count(col(Account.first_checked_at)),
            func.count().filter(checked, col(Account.veto_open).is_(False)),
        ).group_by(
            col(Account.status),
            col(Account.platform),
            col(Account.region_code),
            col(Account.last_outcome),
        ),
    )
    account_states: dict[tuple[str, str, str | None], int] = defaultdict(int)
    inspection: dict[tuple[str, str], tuple[int, int]] = {}
    for status, platform, region, outcome, count, inspected, passing in grouped:
        account_states[platform, status, outcome] += count
        if status == "active" and inspected:
            before = inspection.get((platform, region), (0, 0))
            inspection[platform, region] = (before[0] + inspected, before[1] + passing)
    open_flags = await _rows(
        session,
        select(col(Flag.code), col(Flag.platform), func.count())
        .where(col(Flag.state) == "open")
        .group_by(col(Flag.code), col(Flag.platform)),
    )
    pending = (
        select(func.count(), func.min(col(OutboxEvent.created_at)))
        .select_from(WebhookDelivery)
        .join(OutboxEvent, col(OutboxEvent.id) == col(WebhookDelivery.event_id))
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
        .where(col(WebhookDelivery.status) == "pending", col(WebhookEndpoint.enabled))
    )
    pending_count, oldest = (await _rows(session, pending))[0]
    accounts: list[AccountRow] = []
    account_flags: list[tuple[int, str, str]] = []
    if per_account:
        accounts = [
            AccountRow(*row)
            for row in await _rows(
                session,
                select(
                    col(Account.id),
                    col(Account.platform),
                    col(Account.organization),
                    col(Account.region_code),
                    col(Account.name),
                    col(Account.last_post_at),
                    col(Account.last_checked_at),
                )
                .where(col(Account.status) == "active")
                .order_by(col(Account.id)),
            )
        ]
        account_flags = [
            (account_id, platform, code)
            for account_id, platform, code in await _rows(
                session,
                select(col(Flag.account_id), col(Flag.platform), col(Flag.code))
                .where(col(Flag.state) == "open")
                .order_by(col(Flag.account_id)),
            )
        ]
    health = await checks_service.get_health(session)
    return Snapshot(
        account_states=dict(account_states),
        inspection=inspection,
        open_flags={(c, p): n for c, p, n in open_flags},
        overdue=await dispatch.count_overdue(session, now),
        last_tick=await dispatch.last_tick(session),
        degraded={platform: h.degraded for platform, h in health.items()},
        webhook_pending=int(pending_count or 0),
        webhook_oldest_pending=oldest,
        accounts=accounts,
        account_flags=account_flags,
    )
