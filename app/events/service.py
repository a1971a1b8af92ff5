"""Writing events to the outbox (delivery is its own job, DESIGN §8)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from app.events.models import OutboxEvent

__all__ = ["EVENT_TYPES", "account_data", "emit", "emit_many"]

EVENT_TYPES = (
    "flag.opened",
    "flag.resolved",
    "account.created",
    "account.updated",
    "account.archived",
    "platform.degraded",
    "platform.recovered",
    "inspection.created",
)


def emit(
    session: AsyncSession,
    type_: str,
    data: dict[str, Any],
    *,
    at: datetime,
    account_id: int | None = None,
    region_code: str | None = None,
) -> OutboxEvent:
    """Add an event to the outbox, committed with the caller's change."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    event = OutboxEvent(
        event_id=f"evt_{uuid.uuid4().hex}",
        type=type_,
        created_at=at,
        account_id=account_id,
        region_code=region_code,
        payload=json.dumps(data, ensure_ascii=False, default=str),
    )
    session.add(event)
    return event


def account_data(account: Any, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``data`` of an account event: the account as registered, what changed, a link."""
    return {
        "account": {
            "id": account.id,
            "platform": account.platform,
            "handle": account.handle,
            "name": account.name,
            "organization": account.organization,
            "region_code": account.region_code,
            "region_name": account.region_name,
            "status": account.status,
        },
        "changes": changes or {},
        "links": {"account": f"/api/v1/accounts/{account.id}"},
    }


async def emit_many(
    session: AsyncSession,
    events: list[tuple[str, dict[str, Any], int | None, str | None]],
    *,
    at: datetime,
) -> None:
    """Add many events at once (bulk imports): one multi-row insert instead of ORM objects.

    Each event is (type, data, account_id, region_code).
    """
    if not events:
        return
    for type_, *_rest in events:
        if type_ not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type_!r}")
    rows = [
        {
            "event_id": f"evt_{uuid.uuid4().hex}",
            "type": type_,
            "created_at": at,
            "account_id": account_id,
            "region_code": region_code,
            "payload": json.dumps(data, ensure_ascii=False, default=str),
        }
        for type_, data, account_id, region_code in events
    ]
    connection = await session.connection()
    await connection.execute(insert(OutboxEvent.__table__), rows)  # type: ignore[attr-defined]
