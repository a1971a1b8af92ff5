"""Webhook routes (admin only): endpoints, secret rotation, delivery log, redelivery, replay,
and the event log (where ``webhook.disabled`` events show up)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.audit.service import record
from app.auth.service import Principal
from app.config import Settings
from app.db import utcnow
from app.deps import AdminDep, ReadSessionDep, SettingsDep, WriteSessionDep
from app.egress import BlockedURL, EgressGuard
from app.errors import Problem
from app.events import delivery as delivery_service
from app.events import endpoints as service
from app.events.models import OutboxEvent
from app.events.webhook_models import WebhookDelivery, WebhookEndpoint
from app.events.webhook_schemas import (
    DeliveryRead,
    EventRead,
    ReplayResult,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookUpdate,
    delivery_read,
    webhook_read,
)
from app.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from app.params import IsoDatetime, RowId

router = APIRouter(prefix="/api/v1", tags=["webhooks"])

EventType = Annotated[
    str | None, Query(pattern=r"^[a-z]+\.[a-z]+$", description="e.g. flag.opened")
]


async def _checked_url(url: str, settings: Settings) -> str:
    try:
        await EgressGuard.for_webhooks(settings).check_resolved(url)
    except BlockedURL as exc:
        raise Problem(422, str(exc), errors=[{"field": "url", "message": str(exc)}]) from None
    return url


def _scoped_region(principal: Principal, region_prefix: str | None) -> str | None:
    """A scoped admin's endpoints stay inside its region (its own prefix by default)."""
    scope = principal.region_prefix
    if scope is None:
        return region_prefix
    if region_prefix is None:
        return scope
    if not region_prefix.startswith(scope):
        raise Problem(
            403,
            f"this key may only manage webhooks inside region {scope}",
            errors=[{"field": "region_prefix", "message": f"must start with {scope}"}],
        )
    return region_prefix


async def _endpoint(
    session: AsyncSession, endpoint_id: int, principal: Principal
) -> WebhookEndpoint:
    found = await service.get_endpoint(session, endpoint_id, principal.region_prefix)
    if found is None:
        raise Problem(404, f"no webhook endpoint with id {endpoint_id}")
    return found


@router.post("/webhooks", status_code=201, response_model=WebhookCreated, summary="Add an endpoint")
async def create_webhook(
    body: WebhookCreate, session: WriteSessionDep, principal: AdminDep, settings: SettingsDep
) -> WebhookCreated:
    """Add an endpoint; the answer carries its signing secret, shown this once."""
    url = await _checked_url(body.url, settings)
    endpoint = service.create_endpoint(
        session,
        url=url,
        description=body.description,
        event_types=list(body.event_types) if body.event_types is not None else None,
        region_prefix=_scoped_region(principal, body.region_prefix),
        enabled=body.enabled,
        by=principal.name,
        now=utcnow(),
    )
    await session.flush()
    record(session, principal, "webhook.create", f"webhook:{endpoint.id}", {"url": url})
    return WebhookCreated(**webhook_read(endpoint).model_dump(), secret=endpoint.secret)


@router.get("/webhooks", response_model=Page[WebhookRead], summary="List endpoints")
async def list_webhooks(
    session: ReadSessionDep,
    principal: AdminDep,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[WebhookRead]:
    """Endpoints in id order (a scoped key sees those inside its region)."""
    rows = await service.list_endpoints(
        session,
        scope_prefix=principal.region_prefix,
        limit=limit + 1,
        after_id=decode_cursor(cursor),
    )
    items = [webhook_read(e) for e in rows[:limit]]
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more else None)


@router.get("/webhooks/{webhook_id}", response_model=WebhookRead, summary="Get an endpoint")
async def get_webhook(
    webhook_id: RowId, session: ReadSessionDep, principal: AdminDep
) -> WebhookRead:
    """One endpoint, with why it was disabled if it was."""
    return webhook_read(await _endpoint(session, webhook_id, principal))


@router.patch("/webhooks/{webhook_id}", response_model=WebhookRead, summary="Change an endpoint")
async def update_webhook(
    webhook_id: RowId,
    body: WebhookUpdate,
    session: WriteSessionDep,
    principal: AdminDep,
    settings: SettingsDep,
) -> WebhookRead:
    """Change the URL, filters or state. Disabling pauses deliveries; enabling resumes them."""
    endpoint = await _endpoint(session, webhook_id, principal)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    if "url" in changes:
        if changes["url"] is None:
            raise Problem(422, "url may not be null", errors=[{"field": "url", "message": "null"}])
        endpoint.url = await _checked_url(changes["url"], settings)
    if "description" in changes:
        endpoint.description = changes["description"] or ""
    if "event_types" in changes:
        types = changes["event_types"]
        endpoint.event_types = None if types is None else json.dumps(types)
    if "region_prefix" in changes:
        endpoint.region_prefix = _scoped_region(principal, changes["region_prefix"])
    if changes.get("enabled") is not None:
        endpoint.enabled = changes["enabled"]
        if endpoint.enabled:
            endpoint.disabled_at = endpoint.disabled_reason = endpoint.failing_since = None
    endpoint.updated_at = utcnow()
    session.add(endpoint)
    record(session, principal, "webhook.update", f"webhook:{webhook_id}", changes)
    return webhook_read(endpoint)


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Delete an endpoint")
async def delete_webhook(webhook_id: RowId, session: WriteSessionDep, principal: AdminDep) -> None:
    """Delete the endpoint and its delivery log."""
    endpoint = await _endpoint(session, webhook_id, principal)
    await session.delete(endpoint)
    record(session, principal, "webhook.delete", f"webhook:{webhook_id}", {"url": endpoint.url})


@router.post(
    "/webhooks/{webhook_id}/rotate-secret", response_model=SecretRotated, summary="Rotate secret"
)
async def rotate_secret(
    webhook_id: RowId, session: WriteSessionDep, principal: AdminDep, settings: SettingsDep
) -> SecretRotated:
    """Issue a new secret (shown once); the old one also signs for LIVENESS_WEBHOOK_ROTATION_S."""
    endpoint = await _endpoint(session, webhook_id, principal)
    secret = service.rotate_secret(endpoint, now=utcnow(), overlap_s=settings.webhook_rotation_s)
    session.add(endpoint)
    record(session, principal, "webhook.rotate_secret", f"webhook:{webhook_id}")
    return SecretRotated(
        id=webhook_id, secret=secret, previous_secret_until=endpoint.previous_secret_until
    )


@router.get(
    "/webhooks/{webhook_id}/deliveries", response_model=Page[DeliveryRead], summary="Delivery log"
)
async def list_deliveries(
    webhook_id: RowId,
    session: ReadSessionDep,
    principal: AdminDep,
    status: Annotated[str | None, Query(pattern="^(pending|succeeded|failed)$")] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[DeliveryRead]:
    """The endpoint's deliveries, newest first, optionally of one status."""
    await _endpoint(session, webhook_id, principal)
    query = (
        select(WebhookDelivery, OutboxEvent)
        .join(OutboxEvent, col(OutboxEvent.id) == col(WebhookDelivery.event_id))
        .where(col(WebhookDelivery.endpoint_id) == webhook_id)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit + 1)
    )
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(col(WebhookDelivery.id) < after)
    if status is not None:
        query = query.where(col(WebhookDelivery.status) == status)
    rows = (await session.exec(query)).all()
    items = [delivery_read(d, e) for d, e in rows[:limit]]
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more else None)


@router.post(
    "/deliveries/{delivery_id}/redeliver", response_model=DeliveryRead, summary="Redeliver"
)
async def redeliver(
    delivery_id: RowId, session: WriteSessionDep, principal: AdminDep
) -> DeliveryRead:
    """Send the delivery again now (same webhook-id), with a fresh retry window."""
    row = await session.get(WebhookDelivery, delivery_id)
    if row is None:
        raise Problem(404, f"no delivery with id {delivery_id}")
    endpoint = await service.get_endpoint(session, row.endpoint_id, principal.region_prefix)
    if endpoint is None:
        raise Problem(404, f"no delivery with id {delivery_id}")
    if not endpoint.enabled:
        raise Problem(409, f"webhook endpoint {endpoint.id} is disabled; enable it first")
    await delivery_service.redeliver(session, row, now=utcnow())
    record(session, principal, "webhook.redeliver", f"delivery:{delivery_id}")
    event = await session.get(OutboxEvent, row.event_id)
    assert event is not None
    return delivery_read(row, event)


@router.post("/webhooks/{webhook_id}/replay", response_model=ReplayResult, summary="Replay")
async def replay(
    webhook_id: RowId,
    session: WriteSessionDep,
    principal: AdminDep,
    since: Annotated[IsoDatetime, Query(description="Events at or after this time (ISO 8601).")],
) -> ReplayResult:
    """Queue again every matching event since ``since`` for this endpoint."""
    endpoint = await _endpoint(session, webhook_id, principal)
    if not endpoint.enabled:
        raise Problem(409, f"webhook endpoint {webhook_id} is disabled; enable it first")
    queued = await delivery_service.replay(session, endpoint, since=since, now=utcnow())
    record(session, principal, "webhook.replay", f"webhook:{webhook_id}", {"since": since})
    return ReplayResult(queued=queued, since=since)


@router.get("/events", response_model=Page[EventRead], summary="Event log")
async def list_events(
    session: ReadSessionDep,
    principal: AdminDep,
    type: EventType = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[EventRead]:
    """Outbox events newest first, e.g. ``?type=webhook.disabled`` (a scoped key sees its
    region's events and platform-wide ones)."""
    query = select(OutboxEvent).order_by(col(OutboxEvent.id).desc()).limit(limit + 1)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(col(OutboxEvent.id) < after)
    if type is not None:
        query = query.where(col(OutboxEvent.type) == type)
    if principal.region_prefix is not None:
        query = query.where(
            or_(
                col(OutboxEvent.region_code).startswith(principal.region_prefix),
                col(OutboxEvent.type).startswith("platform."),
            )
        )
    rows = (await session.exec(query)).all()
    items = [
        EventRead(
            id=e.id or 0,
            event_id=e.event_id,
            type=e.type,
            created_at=e.created_at,
            account_id=e.account_id,
            region_code=e.region_code,
            data=e.payload,
        )
        for e in rows[:limit]
    ]
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more else None)
