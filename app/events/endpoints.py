"""Webhook endpoints: create, change, rotate secrets, disable, and which events each gets."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.events.models import OutboxEvent
from app.events.signing import new_secret
from app.events.webhook_models import WebhookDelivery, WebhookEndpoint

__all__ = [
    "active_secrets",
    "create_endpoint",
    "disable",
    "event_types_of",
    "get_endpoint",
    "in_scope",
    "list_endpoints",
    "matches",
    "region_matches",
    "rotate_secret",
]


def event_types_of(endpoint: WebhookEndpoint) -> list[str] | None:
    """The endpoint's event-type filter (None: every type)."""
    return json.loads(endpoint.event_types) if endpoint.event_types else None


def region_matches(prefix: str | None, event_type: str, region_code: str | None) -> bool:
    """Whether an event in ``region_code`` is inside region ``prefix``. Platform-wide events
    (no region) concern every region; other region-less events only unfiltered endpoints."""
    if prefix is None:
        return True
    if region_code is None:
        return event_type.startswith("platform.")
    return region_code.startswith(prefix)


def matches(endpoint: WebhookEndpoint, event: OutboxEvent) -> bool:
    """Whether ``event`` passes the endpoint's type and region filters."""
    types = event_types_of(endpoint)
    if types is not None and event.type not in types:
        return False
    return region_matches(endpoint.region_prefix, event.type, event.region_code)


def in_scope(endpoint: WebhookEndpoint, scope_prefix: str | None) -> bool:
    """Whether an admin scoped to ``scope_prefix`` may see and change ``endpoint``."""
    if scope_prefix is None:
        return True
    return endpoint.region_prefix is not None and endpoint.region_prefix.startswith(scope_prefix)


def create_endpoint(
    session: AsyncSession,
    *,
    url: str,
    description: str,
    event_types: list[str] | None,
    region_prefix: str | None,
    enabled: bool,
    by: str,
    now: datetime,
) -> WebhookEndpoint:
    """Add an endpoint with a fresh secret (the caller shows it once)."""
    endpoint = WebhookEndpoint(
        url=url,
        description=description,
        event_types=json.dumps(event_types) if event_types is not None else None,
        region_prefix=region_prefix,
        enabled=enabled,
        secret=new_secret(),
        created_by=by,
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    return endpoint


async def list_endpoints(
    session: AsyncSession, *, scope_prefix: str | None, limit: int, after_id: int | None
) -> list[WebhookEndpoint]:
    """Endpoints in id order, only those inside the caller's region scope."""
    query = select(WebhookEndpoint).order_by(col(WebhookEndpoint.id)).limit(limit)
    if after_id is not None:
        query = query.where(col(WebhookEndpoint.id) > after_id)
    if scope_prefix is not None:
        query = query.where(col(WebhookEndpoint.region_prefix).startswith(scope_prefix))
    return list((await session.exec(query)).all())


async def get_endpoint(
    session: AsyncSession, endpoint_id: int, scope_prefix: str | None
) -> WebhookEndpoint | None:
    """One endpoint, or None when missing or outside the caller's scope."""
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not in_scope(endpoint, scope_prefix):
        return None
    return endpoint


def rotate_secret(endpoint: WebhookEndpoint, *, now: datetime, overlap_s: int) -> str:
    """Issue a new secret; the current one keeps signing for ``overlap_s`` seconds."""
    endpoint.previous_secret = endpoint.secret if overlap_s > 0 else None
    endpoint.previous_secret_until = now + timedelta(seconds=overlap_s) if overlap_s else None
    endpoint.secret = new_secret()
    endpoint.updated_at = now
    return endpoint.secret


def active_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign a delivery sent at ``now``: the current one, and the previous
    one while its rotation window lasts."""
    found = [endpoint.secret]
    until = endpoint.previous_secret_until
    if endpoint.previous_secret and until is not None and until > now:
        found.append(endpoint.previous_secret)
    return found


def endpoint_data(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """The endpoint as it appears in a ``webhook.disabled`` event (no secret)."""
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": event_types_of(endpoint),
        "region_prefix": endpoint.region_prefix,
    }


async def disable(
    session: AsyncSession, endpoint: WebhookEndpoint, *, reason: str, now: datetime
) -> OutboxEvent:
    """Disable the endpoint, fail its pending deliveries and write a ``webhook.disabled``
    event (delivered to the other endpoints that subscribe to it, listed by the API)."""
    endpoint.enabled = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason[:500]
    endpoint.updated_at = now
    session.add(endpoint)
    pending = select(WebhookDelivery).where(
        col(WebhookDelivery.endpoint_id) == endpoint.id, col(WebhookDelivery.status) == "pending"
    )
    for delivery in (await session.exec(pending)).all():
        delivery.status = "failed"
        delivery.next_attempt_at = None
        delivery.last_error = delivery.last_error or f"endpoint disabled: {reason}"[:500]
        session.add(delivery)
    event = OutboxEvent(
        event_id=f"evt_{uuid.uuid4().hex}",
        type="webhook.disabled",
        created_at=now,
        region_code=endpoint.region_prefix,
        payload=json.dumps(
            {
                "endpoint": endpoint_data(endpoint),
                "reason": reason,
                "disabled_at": now.isoformat(),
                "links": {"endpoint": f"/api/v1/webhooks/{endpoint.id}"},
            },
            ensure_ascii=False,
        ),
    )
    session.add(event)
    return event
