"""Registry changes write their events to the outbox in the same transaction."""

from __future__ import annotations

import json

import httpx
from sqlmodel import col, select

from app.db import Database
from app.events.models import OutboxEvent
from tests.accounts.factories import account_payload
from tests.conftest import Keys


async def _events(database: Database) -> list[tuple[str, int | None, dict[str, object]]]:
    async with database.read_session() as session:
        rows = (await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.id)))).all()
    return [(e.type, e.account_id, json.loads(e.payload)) for e in rows]


async def test_create_update_archive(
    client: httpx.AsyncClient, keys: Keys, database: Database
) -> None:
    created = (
        await client.post(
            "/api/v1/accounts", json=account_payload(), headers=keys.header(keys.operator)
        )
    ).json()
    await client.patch(
        f"/api/v1/accounts/{created['id']}",
        json={"name": "新名称"},
        headers=keys.header(keys.operator),
    )
    await client.delete(f"/api/v1/accounts/{created['id']}", headers=keys.header(keys.operator))
    events = await _events(database)
    assert [(t, a) for t, a, _ in events] == [
        ("account.created", created["id"]),
        ("account.updated", created["id"]),
        ("account.archived", created["id"]),
    ]
    assert events[1][2]["changes"] == {"name": "新名称"}
    assert events[0][2]["account"]["handle"] == "1000000001"  # type: ignore[index]


async def test_bulk_and_failed_writes(
    client: httpx.AsyncClient, keys: Keys, database: Database
) -> None:
    rows = [account_payload(n=1), account_payload(n=2), account_payload(n=3, handle="bad")]
    body = (
        await client.post(
            "/api/v1/accounts:bulk", json={"items": rows}, headers=keys.header(keys.operator)
        )
    ).json()
    ids = [r["id"] for r in body["rows"][:2]]
    again = [account_payload(n=1, name="改了"), account_payload(n=2)]
    await client.post(
        "/api/v1/accounts:bulk", json={"items": again}, headers=keys.header(keys.operator)
    )
    # A refused write leaves no event behind.
    await client.post(
        "/api/v1/accounts", json=account_payload(n=1), headers=keys.header(keys.operator)
    )
    events = [(t, a) for t, a, _ in await _events(database)]
    assert events == [
        ("account.created", ids[0]),
        ("account.created", ids[1]),
        ("account.updated", ids[0]),
    ]
