"""Writing events to the outbox (delivery is its own job, DESIGN §8)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.events.models import OutboxEvent

__all__ = ["EVENT_TYPES", "emit"]

EVENT_TYPES = (
    "flag.opened",
    "flag.resolved",
    "account.created",
    "account.updated",
    "account.archived",
    "platform.degraded",
    "platform.recovered",
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
