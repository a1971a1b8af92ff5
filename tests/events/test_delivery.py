"""Delivery: signatures the reference library accepts, retries on schedule with the same
webhook-id, Retry-After, redirects, leases, filters, and disabling; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlmodel import col, select
from standardwebhooks import Webhook

from app.config import Settings
from app.db import Database
from app.events import delivery, endpoints
from app.events.models import OutboxEvent
from app.events.sender import Deliverer
from app.events.service import emit
from app.events.webhook_models import WebhookDelivery, WebhookEndpoint
from tests.events.receiver import Received, running_receiver

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


async def add_endpoint(
    database: Database,
    url: str,
    *,
    event_types: list[str] | None = None,
    region_prefix: str | None = None,
    now: datetime = T0,
) -> WebhookEndpoint:
    async with database.write_session() as session:
        endpoint = endpoints.create_endpoint(
            session,
            url=url,
            description="test",
            event_types=event_types,
            region_prefix=region_prefix,
            enabled=True,
            by="test",
            now=now,
        )
    return endpoint


async def add_events(
    database: Database,
    count: int,
    *,
    type_: str = "flag.opened",
    region: str = "220102",
    at: datetime = T0,
) -> list[str]:
    async with database.write_session() as session:
        events = [
            emit(
                session,
                type_,
                {"n": n, "名称": "长春发布"},
                at=at,
                account_id=n,
                region_code=region,
            )
            for n in range(count)
        ]
    return [e.event_id for e in events]


async def deliveries(database: Database) -> list[WebhookDelivery]:
    async with database.read_session() as session:
        return list(
            (await session.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.id)))).all()
        )


async def test_signatures_verify_with_the_reference_library(
    database: Database, settings: Settings
) -> None:
    with running_receiver() as receiver:
        endpoint = await add_endpoint(database, receiver.url)
        ids = await add_events(database, 3)
        deliverer = Deliverer(database, settings)
        try:
            assert await deliverer.drain() == 3
        finally:
            await deliverer.aclose()
    assert sorted(receiver.ids(204)) == sorted(ids)
    for request in receiver.received:
        assert request.headers["content-type"] == "application/json"
        payload = Webhook(endpoint.secret).verify(request.body, request.headers)
        assert set(payload) == {"type", "timestamp", "data"}
        assert payload["type"] == "flag.opened" and payload["data"]["名称"] == "长春发布"
        assert datetime.fromisoformat(payload["timestamp"]) == T0
        assert request.headers["webhook-signature"].startswith("v1,")
        with pytest.raises(Exception, match="signature"):
            Webhook(endpoint.secret).verify(request.body + b" ", request.headers)
    assert all(d.status == "succeeded" and d.attempts == 1 for d in await deliveries(database))


async def test_rotation_signs_with_both_secrets_until_the_window_ends(
    database: Database, settings: Settings
) -> None:
    with running_receiver() as receiver:
        endpoint = await add_endpoint(database, receiver.url)
        old = endpoint.secret
        async with database.write_session() as session:
            row = await session.get(WebhookEndpoint, endpoint.id)
            assert row is not None
            new = endpoints.rotate_secret(row, now=T0, overlap_s=3600)
            session.add(row)
        await add_events(database, 1)
        deliverer = Deliverer(database, settings)
        try:
            with time_machine.travel(T0 + timedelta(minutes=1)):
                await deliverer.drain()
            await add_events(database, 1, at=T0 + timedelta(hours=2))
            with time_machine.travel(T0 + timedelta(hours=2)):
                await deliverer.drain()
                during, after = receiver.received
                assert len(during.headers["webhook-signature"].split()) == 2
                assert len(after.headers["webhook-signature"].split()) == 1
                Webhook(new).verify(after.body, after.headers)
                with pytest.raises(Exception, match="signature"):
                    Webhook(old).verify(after.body, after.headers)
            with time_machine.travel(T0 + timedelta(minutes=1)):
                Webhook(old).verify(during.body, during.headers)
                Webhook(new).verify(during.body, during.headers)
        finally:
            await deliverer.aclose()
    assert new != old


async def test_a_failing_receiver_gets_the_event_once_with_the_same_id(
    database: Database, settings: Settings
) -> None:
    """Fails the first 3 attempts; attempts come on schedule (never early), always with the
    same webhook-id, all verifiable, and the 4th succeeds exactly once."""
    failures = 3

    def respond(_request: Received, seen: int) -> tuple[int, dict[str, str]]:
        return (500, {}) if seen < failures else (200, {})

    with running_receiver(respond) as receiver, time_machine.travel(T0, tick=False) as traveller:
        endpoint = await add_endpoint(database, receiver.url)
        [event_id] = await add_events(database, 1)
        deliverer = Deliverer(database, settings, rng=random.Random(1))
        try:
            verifier = Webhook(endpoint.secret)
            assert await deliverer.drain() == 1
            verifier.verify(receiver.received[-1].body, receiver.received[-1].headers)
            for base_s in (5, 300, 1800):  # each delay is the base ±10 %
                traveller.shift(timedelta(seconds=base_s * 0.9 - 0.5))
                assert await deliverer.drain() == 0, "an attempt came before its time"
                traveller.shift(timedelta(seconds=base_s * 0.2 + 1))
                assert await deliverer.drain() == 1
                verifier.verify(receiver.received[-1].body, receiver.received[-1].headers)
            traveller.shift(timedelta(days=1))
            assert await deliverer.drain() == 0
        finally:
            await deliverer.aclose()
    assert receiver.ids() == [event_id] * 4
    assert receiver.answered == [500, 500, 500, 200]
    [row] = await deliveries(database)
    assert row.status == "succeeded" and row.attempts == 4 and row.last_status_code == 200
    assert row.last_error is None and row.next_attempt_at is None


async def test_retry_after_is_honoured_on_429_and_503(
    database: Database, settings: Settings
) -> None:
    answers = iter(
        [(503, {"retry-after": "3600"}), (429, {"retry-after": "Mon, 23 Nov 2026 12:00:00 GMT"})]
    )

    def respond(_request: Received, _seen: int) -> tuple[int, dict[str, str]]:
        return next(answers)

    with running_receiver(respond) as receiver:
        await add_endpoint(database, receiver.url)
        await add_events(database, 1)
        deliverer = Deliverer(database, settings, rng=random.Random(1))
        try:
            await deliverer.drain(T0)
            [row] = await deliveries(database)
            assert row.next_attempt_at == T0 + timedelta(seconds=3600)
            assert row.last_status_code == 503 and row.last_error == "HTTP 503"
            await deliverer.drain(T0 + timedelta(seconds=3600))
            [row] = await deliveries(database)
            assert row.next_attempt_at == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
        finally:
            await deliverer.aclose()


async def test_redirects_are_failures_and_not_followed(
    database: Database, settings: Settings
) -> None:
    def respond(_request: Received, _seen: int) -> tuple[int, dict[str, str]]:
        return 302, {"location": "http://127.0.0.1:1/elsewhere"}

    with running_receiver(respond) as receiver:
        await add_endpoint(database, receiver.url)
        await add_events(database, 1)
        deliverer = Deliverer(database, settings, rng=random.Random(1))
        try:
            await deliverer.drain(T0)
        finally:
            await deliverer.aclose()
    [row] = await deliveries(database)
    assert len(receiver.received) == 1
    assert row.status == "pending" and row.last_status_code == 302
    assert row.last_error == "HTTP 302: redirect to http://127.0.0.1:1/elsewhere not followed"
    assert T0 + timedelta(seconds=4) <= row.next_attempt_at <= T0 + timedelta(seconds=6)  # type: ignore[operator]


async def test_410_disables_the_endpoint_with_an_event(
    database: Database, settings: Settings
) -> None:
    def gone(_request: Received, _seen: int) -> tuple[int, dict[str, str]]:
        return 410, {}

    with running_receiver(gone) as dead, running_receiver() as ops:
        endpoint = await add_endpoint(database, dead.url)
        await add_endpoint(database, ops.url, event_types=["webhook.disabled"])
        await add_events(database, 2)
        deliverer = Deliverer(database, settings)
        try:
            await deliverer.drain(T0)  # both events are in flight together, both see 410
            await add_events(database, 1)
            await deliverer.drain(T0)  # the webhook.disabled event goes out on the next pass
        finally:
            await deliverer.aclose()
    async with database.read_session() as session:
        row = await session.get(WebhookEndpoint, endpoint.id)
        disabled = (
            await session.exec(select(OutboxEvent).where(OutboxEvent.type == "webhook.disabled"))
        ).all()
    assert (
        row is not None
        and not row.enabled
        and row.disabled_reason == "the endpoint answered 410 Gone"
    )
    assert dead.answered == [410, 410], "a disabled endpoint gets nothing more"
    assert [json.loads(e.payload)["endpoint"]["id"] for e in disabled] == [endpoint.id]
    assert [json.loads(r.body)["type"] for r in ops.received] == ["webhook.disabled"]
    statuses = sorted(d.status for d in await deliveries(database) if d.endpoint_id == endpoint.id)
    assert statuses == ["failed", "failed"]


async def test_failing_for_the_whole_window_gives_up_and_disables(
    database: Database, settings: Settings
) -> None:
    def broken(_request: Received, _seen: int) -> tuple[int, dict[str, str]]:
        return 500, {}

    with running_receiver(broken) as receiver:
        endpoint = await add_endpoint(database, receiver.url)
        await add_events(database, 1)
        deliverer = Deliverer(database, settings, rng=random.Random(7))
        now = T0
        try:
            while True:
                await deliverer.drain(now)
                [row] = await deliveries(database)
                if row.next_attempt_at is None:
                    break
                now = row.next_attempt_at
        finally:
            await deliverer.aclose()
    # 8 scheduled attempts take ~27.6 h; then every 10 h until 72 h: 12 (11 with jitter).
    assert row.status == "failed" and row.attempts == len(receiver.received)
    assert 11 <= row.attempts <= 12
    assert now - T0 <= timedelta(seconds=settings.webhook_retry_window_s)
    assert now - T0 > timedelta(days=2), "retries last about three days"
    async with database.read_session() as session:
        stored = await session.get(WebhookEndpoint, endpoint.id)
    assert stored is not None and not stored.enabled
    assert stored.disabled_reason is not None and "whole retry window" in stored.disabled_reason


async def test_claims_are_leased(database: Database, settings: Settings) -> None:
    await add_endpoint(database, "http://127.0.0.1:4/hook")
    await add_events(database, 5)
    async with database.write_session() as session:
        await delivery.fan_out(session, now=T0)
    async with database.write_session() as session:
        first = await delivery.claim_due(session, now=T0, limit=10, lease_s=30)
    async with database.write_session() as session:
        second = await delivery.claim_due(
            session, now=T0 + timedelta(seconds=29), limit=10, lease_s=30
        )
    async with database.write_session() as session:
        after_lease = await delivery.claim_due(
            session, now=T0 + timedelta(seconds=31), limit=10, lease_s=30
        )
    assert len(first) == 5 and second == [] and len(after_lease) == 5
    stale = first[0]
    async with database.write_session() as session:
        outcome = delivery.Outcome(200, None)
        assert (
            await delivery.record(session, stale, outcome, now=T0, window_s=60, rng=random.Random())
            is None
        )


async def test_fan_out_follows_type_and_region_filters(database: Database) -> None:
    everything = await add_endpoint(database, "http://127.0.0.1:4/a")
    opened = await add_endpoint(database, "http://127.0.0.1:4/b", event_types=["flag.opened"])
    changchun = await add_endpoint(database, "http://127.0.0.1:4/c", region_prefix="2201")
    await add_events(database, 1, type_="flag.opened", region="220102")
    await add_events(database, 1, type_="flag.resolved", region="110101")
    await add_events(database, 1, type_="platform.degraded", region=None)  # type: ignore[arg-type]
    async with database.write_session() as session:
        assert await delivery.fan_out(session, now=T0) == (3, 6)
    async with database.write_session() as session:
        assert await delivery.fan_out(session, now=T0) == (0, 0)
    per_endpoint: dict[int, int] = {}
    for row in await deliveries(database):
        per_endpoint[row.endpoint_id] = per_endpoint.get(row.endpoint_id, 0) + 1
    assert per_endpoint == {everything.id: 3, opened.id: 1, changchun.id: 2}


def test_schedule_and_retry_after_parsing() -> None:
    rng = random.Random(3)
    bases = [5, 300, 1800, 7200, 18000, 36000, 36000, 36000]
    for attempt, base in enumerate(bases, start=1):
        assert base * 0.9 <= delivery.next_delay(attempt, rng) <= base * 1.1
    assert delivery.parse_retry_after("120", T0) == 120
    assert delivery.parse_retry_after("Mon, 23 Nov 2026 08:01:00 GMT", T0) == 60
    assert (
        delivery.parse_retry_after("soon", T0) is None
        and delivery.parse_retry_after(None, T0) is None
        and delivery.parse_retry_after("²", T0) is None
    )


async def test_a_retry_after_beyond_any_calendar_ends_the_retries(
    database: Database, settings: Settings
) -> None:
    """A receiver's Retry-After of 10^20 seconds (past what a datetime can hold) is the end
    of the retry window, not a crash of the sender."""

    def respond(_request: Received, _seen: int) -> tuple[int, dict[str, str]]:
        return 503, {"retry-after": "1" + "0" * 20}

    with running_receiver(respond) as receiver:
        await add_endpoint(database, receiver.url)
        await add_events(database, 1)
        deliverer = Deliverer(database, settings, rng=random.Random(1))
        try:
            await deliverer.drain(T0)
        finally:
            await deliverer.aclose()
    [row] = await deliveries(database)
    assert row.status == "failed" and row.next_attempt_at is None and row.attempts == 1
