"""Delivery state in the database: fan-out, claims, outcomes, retries, replay.

Everything a delivery needs to survive a SIGKILL lives in its row; the sender (sender.py)
only holds leases. Schedule (docs.svix.com/retries): immediately, 5 s, 5 min, 30 min, 2 h,
5 h, 10 h, 10 h, then every 10 h until the retry window (3 days) is over, each with ±10 %
jitter; Retry-After on 429/503 is honoured.
"""

from __future__ import annotations

import email.utils
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.events import endpoints
from app.events.models import OutboxEvent
from app.events.webhook_models import WebhookDelivery, WebhookEndpoint

__all__ = [
    "RETRY_DELAYS_S",
    "Job",
    "Outcome",
    "claim_due",
    "fan_out",
    "next_delay",
    "parse_retry_after",
    "record",
    "redeliver",
    "replay",
]

# Delay after the n-th failed attempt (n = 1, 2, …); the last one repeats.
RETRY_DELAYS_S = (5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.1


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed attempt: what to send, where, signed with which secrets."""

    delivery_id: int
    lease_token: str
    endpoint_id: int
    url: str
    secrets: tuple[str, ...]
    msg_id: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an attempt came to: an HTTP status, or an error before any answer."""

    status_code: int | None
    error: str | None
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def next_delay(failed_attempts: int, rng: random.Random) -> float:
    """Seconds to wait after the ``failed_attempts``-th failure, with jitter."""
    base = RETRY_DELAYS_S[min(failed_attempts, len(RETRY_DELAYS_S)) - 1]
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit alone admits "²", which float refuses
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def body_of(event: OutboxEvent) -> bytes:
    """The JSON body ``{"type", "timestamp", "data"}``; ``data`` is the stored payload text,
    embedded as is, so the bytes signed are the bytes sent."""
    head = f'{{"type":"{event.type}","timestamp":"{event.created_at.isoformat()}","data":'
    return (head + event.payload + "}").encode()


async def fan_out(session: AsyncSession, *, now: datetime, limit: int = 500) -> tuple[int, int]:
    """Turn up to ``limit`` new outbox events into one pending delivery per matching enabled
    endpoint. Returns (events handled, deliveries created)."""
    chosen = (
        select(OutboxEvent)
        .where(col(OutboxEvent.dispatched_at).is_(None))
        .order_by(col(OutboxEvent.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    events = list((await session.exec(chosen)).all())
    if not events:
        return 0, 0
    enabled = (
        await session.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.enabled)))
    ).all()
    rows = [
        {
            "endpoint_id": endpoint.id,
            "event_id": event.id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for event in events
        for endpoint in enabled
        if endpoints.matches(endpoint, event)
    ]
    connection = await session.connection()
    if rows:
        await connection.execute(insert(WebhookDelivery.__table__), rows)  # type: ignore[attr-defined]
    await connection.execute(
        update(OutboxEvent)
        .where(col(OutboxEvent.id).in_([e.id for e in events]))
        .values(dispatched_at=now)
    )
    return len(events), len(rows)


async def claim_due(session: AsyncSession, *, now: datetime, limit: int, lease_s: int) -> list[Job]:
    """Lease up to ``limit`` due deliveries of enabled endpoints, soonest first."""
    if limit <= 0:
        return []
    token = secrets.token_hex(8)
    chosen = (
        select(col(WebhookDelivery.id))
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
        .where(
            col(WebhookDelivery.status) == "pending",
            col(WebhookDelivery.next_attempt_at) <= now,
            or_(
                col(WebhookDelivery.lease_until).is_(None), col(WebhookDelivery.lease_until) <= now
            ),
            col(WebhookEndpoint.enabled),
        )
        .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
        .limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    connection = await session.connection()
    claimed = await connection.execute(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id).in_(chosen.scalar_subquery()))
        .values(lease_until=now + timedelta(seconds=lease_s), lease_token=token)
        .returning(col(WebhookDelivery.id))
        .execution_options(synchronize_session=False)
    )
    ids = [row[0] for row in claimed.all()]
    if not ids:
        return []
    loaded = await session.exec(
        select(WebhookDelivery, OutboxEvent, WebhookEndpoint)
        .join(OutboxEvent, col(OutboxEvent.id) == col(WebhookDelivery.event_id))
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
        .where(col(WebhookDelivery.id).in_(ids))
        .order_by(col(WebhookDelivery.id))
    )
    jobs = []
    for delivery, event, endpoint in loaded.all():
        assert delivery.id is not None and endpoint.id is not None
        jobs.append(
            Job(
                delivery_id=delivery.id,
                lease_token=token,
                endpoint_id=endpoint.id,
                url=endpoint.url,
                secrets=tuple(endpoints.active_secrets(endpoint, now)),
                msg_id=event.event_id,
                body=body_of(event),
            )
        )
    return jobs


async def record(
    session: AsyncSession,
    job: Job,
    outcome: Outcome,
    *,
    now: datetime,
    window_s: int,
    rng: random.Random,
) -> str | None:
    """Store an attempt's outcome and decide what comes next. Returns the delivery's new
    status, or None when the lease was lost (another process owns the delivery now)."""
    delivery = await session.get(WebhookDelivery, job.delivery_id)
    if delivery is None or delivery.lease_token != job.lease_token:
        return None
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.window_started_at = delivery.window_started_at or now
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error[:500] if outcome.error else None
    delivery.lease_until = None
    delivery.lease_token = None
    session.add(delivery)
    if outcome.ok:
        delivery.status = "succeeded"
        delivery.succeeded_at = now
        delivery.next_attempt_at = None
        connection = await session.connection()
        await connection.execute(
            update(WebhookEndpoint)
            .where(col(WebhookEndpoint.id) == job.endpoint_id)
            .where(col(WebhookEndpoint.failing_since).is_not(None))
            .values(failing_since=None)
        )
        return delivery.status
    endpoint = await session.get(WebhookEndpoint, job.endpoint_id)
    assert endpoint is not None
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        session.add(endpoint)
    if outcome.status_code == 410:
        delivery.status = "failed"
        delivery.next_attempt_at = None
        if endpoint.enabled:
            await endpoints.disable(
                session, endpoint, reason="the endpoint answered 410 Gone", now=now
            )
        return delivery.status
    delay = next_delay(delivery.attempts, rng)
    if outcome.status_code in (429, 503) and outcome.retry_after_s is not None:
        # A receiver may ask for centuries; past the window is past the window.
        delay = max(delay, min(outcome.retry_after_s, window_s + 1.0))
    next_at = now + timedelta(seconds=delay)
    if next_at <= delivery.window_started_at + timedelta(seconds=window_s):
        delivery.next_attempt_at = next_at
        return delivery.status
    delivery.status = "failed"
    delivery.next_attempt_at = None
    # Failing continuously since this delivery's first attempt: the whole window.
    if endpoint.enabled and endpoint.failing_since <= delivery.window_started_at:
        since = endpoint.failing_since.isoformat()
        await endpoints.disable(
            session,
            endpoint,
            reason=f"every delivery failed since {since}, for the whole retry window",
            now=now,
        )
    return delivery.status


def _requeue(delivery: WebhookDelivery, now: datetime) -> None:
    delivery.status = "pending"
    delivery.next_attempt_at = now
    delivery.window_started_at = None
    delivery.lease_until = None
    delivery.lease_token = None


async def redeliver(session: AsyncSession, delivery: WebhookDelivery, *, now: datetime) -> None:
    """Queue one delivery again, now, with a fresh retry window (same webhook-id)."""
    _requeue(delivery, now)
    session.add(delivery)


async def replay(
    session: AsyncSession, endpoint: WebhookEndpoint, *, since: datetime, now: datetime
) -> int:
    """Queue again every event since ``since`` that the endpoint's filters match (creating
    deliveries it never had). Events not yet fanned out are left to the fan-out."""
    existing = {
        d.event_id: d
        for d in (
            await session.exec(
                select(WebhookDelivery)
                .join(OutboxEvent, col(OutboxEvent.id) == col(WebhookDelivery.event_id))
                .where(
                    col(WebhookDelivery.endpoint_id) == endpoint.id,
                    col(OutboxEvent.created_at) >= since,
                )
            )
        ).all()
    }
    events = await session.exec(
        select(OutboxEvent)
        .where(col(OutboxEvent.created_at) >= since, col(OutboxEvent.dispatched_at).is_not(None))
        .order_by(col(OutboxEvent.id))
    )
    queued = 0
    for event in events.all():
        if not endpoints.matches(endpoint, event):
            continue
        assert event.id is not None and endpoint.id is not None
        delivery = existing.get(event.id)
        if delivery is None:
            delivery = WebhookDelivery(endpoint_id=endpoint.id, event_id=event.id, created_at=now)
        _requeue(delivery, now)
        session.add(delivery)
        queued += 1
    return queued
