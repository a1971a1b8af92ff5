"""The webhooks API: endpoints, secrets shown once, rotation, delivery log, redelivery,
replay, the event log, region scope and bad input; on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from app.auth import service as auth_service
from app.auth.schemas import Role
from app.config import Settings
from app.db import Database
from app.events.sender import Deliverer
from tests.conftest import Keys
from tests.events.receiver import Received, running_receiver
from tests.events.test_delivery import add_events


async def _scoped_admin(database: Database) -> dict[str, str]:
    async with database.write_session() as session:
        _row, plain = await auth_service.create_key(
            session, name="jilin-admin", role=Role.ADMIN, region_prefix="2201"
        )
    return Keys.header(plain)


async def _drain(app: FastAPI, settings: Settings, now: datetime | None = None) -> None:
    deliverer = Deliverer(app.state.database, settings)
    try:
        await deliverer.drain(now)
    finally:
        await deliverer.aclose()


async def test_endpoint_lifecycle_and_secret_shown_once(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    admin = keys.header(keys.admin)
    created = await client.post(
        "/api/v1/webhooks",
        json={
            "url": "https://hooks.example.com/x",
            "event_types": ["flag.opened"],
            "description": "清理",
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert body["event_types"] == ["flag.opened"] and body["enabled"] is True
    hook = f"/api/v1/webhooks/{body['id']}"
    for response in (
        await client.get(hook, headers=admin),
        await client.get("/api/v1/webhooks", headers=admin),
    ):
        assert (
            response.status_code == 200
            and secret not in response.text
            and 'secret"' not in response.text
        )
    patched = await client.patch(
        hook, json={"event_types": None, "region_prefix": "2201", "enabled": False}, headers=admin
    )
    assert patched.status_code == 200
    assert patched.json()["event_types"] is None and patched.json()["region_prefix"] == "2201"
    assert patched.json()["enabled"] is False
    rotated = await client.post(f"{hook}/rotate-secret", headers=admin)
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_") and rotated.json()["secret"] != secret
    until = datetime.fromisoformat(rotated.json()["previous_secret_until"])
    assert timedelta(hours=23) < until - datetime.now(UTC) <= timedelta(hours=24)
    assert (await client.get(hook, headers=admin)).json()["previous_secret_until"] is not None
    assert (await client.delete(hook, headers=admin)).status_code == 204
    assert (await client.get(hook, headers=admin)).status_code == 404


async def test_bad_input_names_the_field(client: httpx.AsyncClient, keys: Keys) -> None:
    admin = keys.header(keys.admin)
    cases = [
        ({"url": "https://x.example/", "event_types": ["flag.exploded"]}, "event_types.0"),
        ({"url": "https://x.example/", "event_types": []}, "event_types"),
        ({"url": "https://x.example/", "region_prefix": "22x"}, "region_prefix"),
        ({"url": "mailto:a@b.c"}, "url"),
        ({"url": "https://x.example/", "secret": "mine"}, "secret"),
    ]
    for payload, field in cases:
        response = await client.post("/api/v1/webhooks", json=payload, headers=admin)
        assert response.status_code == 422, payload
        assert response.json()["errors"][0]["field"] == field, response.json()
    naive = await client.post("/api/v1/webhooks/1/replay?since=2026-11-01T00:00:00", headers=admin)
    assert naive.status_code in (404, 422)
    assert (await client.get("/api/v1/webhooks/999", headers=admin)).status_code == 404


async def test_delivery_log_redeliver_and_replay(
    app: FastAPI, client: httpx.AsyncClient, keys: Keys, database: Database, settings: Settings
) -> None:
    admin = keys.header(keys.admin)

    fail_once: set[str] = set()

    def flaky(request: Received, seen: int) -> tuple[int, dict[str, str]]:
        return (502, {}) if seen == 0 and request.msg_id in fail_once else (200, {})

    with running_receiver(flaky) as receiver:
        await add_events(database, 2, at=datetime.now(UTC) - timedelta(hours=1))
        await _drain(app, settings)  # events before the endpoint existed go nowhere
        hook = (
            await client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=admin)
        ).json()
        # Now, not the module's fixed T0: replay below reaches back two hours of wall-clock time.
        ids = await add_events(database, 3, at=datetime.now(UTC))
        fail_once.update(ids)
        await _drain(app, settings)
        log = f"/api/v1/webhooks/{hook['id']}/deliveries"
        first = (await client.get(log, params={"limit": 2}, headers=admin)).json()
        second = (
            await client.get(
                log, params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin
            )
        ).json()
        rows = first["items"] + second["items"]
        assert second["next_cursor"] is None and len(rows) == 3
        assert sorted(r["event_id"] for r in rows) == sorted(ids)
        for row in rows:
            assert row["status"] == "pending" and row["attempts"] == 1
            assert row["last_status_code"] == 502 and row["last_error"] == "HTTP 502"
            assert row["next_attempt_at"] is not None

        redone = await client.post(f"/api/v1/deliveries/{rows[0]['id']}/redeliver", headers=admin)
        assert redone.status_code == 200 and redone.json()["status"] == "pending"
        await _drain(app, settings)
        again = (await client.get(log, params={"status": "succeeded"}, headers=admin)).json()[
            "items"
        ]
        assert [r["id"] for r in again] == [rows[0]["id"]] and again[0]["attempts"] == 2

        since = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
        replayed = await client.post(
            f"/api/v1/webhooks/{hook['id']}/replay", params={"since": since}, headers=admin
        )
        assert replayed.status_code == 200 and replayed.json()["queued"] == 5
        await _drain(app, settings)
        everything = (await client.get(log, headers=admin)).json()["items"]
        assert len(everything) == 5 and all(r["status"] == "succeeded" for r in everything)
    assert set(ids) <= set(receiver.ids(200)) and len(set(receiver.ids(200))) == 5


async def test_disabled_endpoints_show_why_and_the_event(
    app: FastAPI, client: httpx.AsyncClient, keys: Keys, database: Database, settings: Settings
) -> None:
    admin = keys.header(keys.admin)

    def gone(_request: Received, _seen: int) -> tuple[int, dict[str, str]]:
        return 410, {}

    with running_receiver(gone) as receiver:
        hook = (
            await client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=admin)
        ).json()
        await add_events(database, 1)
        await _drain(app, settings)
    shown = (await client.get(f"/api/v1/webhooks/{hook['id']}", headers=admin)).json()
    assert (
        shown["enabled"] is False and shown["disabled_reason"] == "the endpoint answered 410 Gone"
    )
    events = (
        await client.get("/api/v1/events", params={"type": "webhook.disabled"}, headers=admin)
    ).json()
    [event] = events["items"]
    assert event["data"]["endpoint"]["id"] == hook["id"] and "secret" not in str(event["data"])
    refused = await client.post(
        f"/api/v1/webhooks/{hook['id']}/replay",
        params={"since": "2026-01-01T00:00:00Z"},
        headers=admin,
    )
    assert refused.status_code == 409
    enabled = await client.patch(
        f"/api/v1/webhooks/{hook['id']}", json={"enabled": True}, headers=admin
    )
    assert enabled.json()["enabled"] is True and enabled.json()["disabled_reason"] is None


async def test_region_scoped_admins_stay_inside_their_region(
    client: httpx.AsyncClient, keys: Keys, database: Database
) -> None:
    admin, scoped = keys.header(keys.admin), await _scoped_admin(database)
    national = (
        await client.post("/api/v1/webhooks", json={"url": "https://a.example/"}, headers=admin)
    ).json()
    own = await client.post("/api/v1/webhooks", json={"url": "https://b.example/"}, headers=scoped)
    assert own.status_code == 201 and own.json()["region_prefix"] == "2201"
    outside = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://c.example/", "region_prefix": "11"},
        headers=scoped,
    )
    assert outside.status_code == 403 and outside.json()["errors"][0]["field"] == "region_prefix"
    listed = (await client.get("/api/v1/webhooks", headers=scoped)).json()["items"]
    assert [h["id"] for h in listed] == [own.json()["id"]]
    for method, path in (
        ("GET", f"/api/v1/webhooks/{national['id']}"),
        ("PATCH", f"/api/v1/webhooks/{national['id']}"),
        ("DELETE", f"/api/v1/webhooks/{national['id']}"),
        ("POST", f"/api/v1/webhooks/{national['id']}/rotate-secret"),
        ("GET", f"/api/v1/webhooks/{national['id']}/deliveries"),
    ):
        response = await client.request(
            method, path, json={} if method == "PATCH" else None, headers=scoped
        )
        assert response.status_code == 404, (method, path)
    widen = await client.patch(
        f"/api/v1/webhooks/{own.json()['id']}", json={"region_prefix": "22"}, headers=scoped
    )
    assert widen.status_code == 403
    assert len((await client.get("/api/v1/webhooks", headers=admin)).json()["items"]) == 2
