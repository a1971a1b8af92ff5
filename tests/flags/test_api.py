"""The flags API: list with filters, get with history, acknowledge, silence; account detail."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlmodel import col, select

from app.accounts.models import Account
from app.db import Database, utcnow
from app.events.models import OutboxEvent
from app.flags import service
from app.flags.policy import load_policy
from app.flags.rules import Decision
from tests.conftest import Keys

POLICY = load_policy("national")


async def _account(database: Database, n: int, region: str = "220102", **fields: object) -> int:
    async with database.write_session() as session:
        account = Account(
            platform="weibo",
            handle=str(1_500_000_000 + n),
            name=f"账号{n}",
            organization="长春市政府",
            region_code=region,
            **fields,
        )
        session.add(account)
        await session.flush()
        assert account.id is not None
        return account.id


async def _decide(database: Database, account_id: int, **decisions: bool) -> None:
    async with database.write_session() as session:
        account = await session.get(Account, account_id)
        assert account is not None
        rules = {code: POLICY.rule(code, "weibo") for code in decisions}
        await service.apply_decisions(
            session,
            account,
            {code: Decision(is_open, {"why": code}) for code, is_open in decisions.items()},
            rules,
            now=utcnow(),  # type: ignore[arg-type]
        )


async def _events(database: Database) -> list[str]:
    async with database.read_session() as session:
        return [
            e.type
            for e in (await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.id)))).all()
        ]


async def test_list_filters_and_detail(
    client: httpx.AsyncClient, keys: Keys, database: Database
) -> None:
    a = await _account(database, 1)
    b = await _account(database, 2, region="110101")
    await _decide(database, a, stale=True, zombie=True)
    await _decide(database, b, stale=True)
    await _decide(database, b, stale=False)

    async def codes(**params: str) -> list[tuple[int, str, str]]:
        response = await client.get(
            "/api/v1/flags", params=params, headers=keys.header(keys.viewer)
        )
        assert response.status_code == 200, response.text
        return [(f["account_id"], f["code"], f["state"]) for f in response.json()["items"]]

    assert await codes(state="open") == [(a, "stale", "open"), (a, "zombie", "open")]
    assert await codes(state="resolved") == [(b, "stale", "resolved")]
    assert await codes(code="zombie") == [(a, "zombie", "open")]
    assert await codes(region_code="11") == [(b, "stale", "resolved")]
    assert await codes(account_id=str(b)) == [(b, "stale", "resolved")]
    assert await codes(organization="别的单位") == []
    scoped = await client.get("/api/v1/flags", headers=keys.header(keys.scoped_viewer))
    assert {f["account_id"] for f in scoped.json()["items"]} == {a}

    first = (
        await client.get(
            "/api/v1/flags",
            params={"code": "stale", "state": "open"},
            headers=keys.header(keys.viewer),
        )
    ).json()["items"][0]
    assert first["label_zh"] == "不更新" and first["veto"] is True
    assert first["rule"] == "days=14" and "国办秘函" in first["source"]
    assert first["evidence"] == {"why": "stale"}

    detail = (await client.get(f"/api/v1/accounts/{a}", headers=keys.header(keys.viewer))).json()
    assert detail["passes_inspection"] is False
    assert [f["code"] for f in detail["open_flags"]] == ["stale", "zombie"]
    other = (await client.get(f"/api/v1/accounts/{b}", headers=keys.header(keys.viewer))).json()
    assert other["passes_inspection"] is True and other["open_flags"] == []
    assert await _events(database) == ["flag.opened", "flag.opened", "flag.opened", "flag.resolved"]


async def test_ack_and_history(client: httpx.AsyncClient, keys: Keys, database: Database) -> None:
    a = await _account(database, 1)
    await _decide(database, a, stale=True)
    flag_id = (await client.get("/api/v1/flags", headers=keys.header(keys.viewer))).json()["items"][
        0
    ]["id"]
    refused = await client.post(
        f"/api/v1/flags/{flag_id}/ack", json={"note": "x"}, headers=keys.header(keys.viewer)
    )
    assert refused.status_code == 403
    empty = await client.post(
        f"/api/v1/flags/{flag_id}/ack", json={"note": ""}, headers=keys.header(keys.operator)
    )
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "note"
    acked = await client.post(
        f"/api/v1/flags/{flag_id}/ack",
        json={"note": "已通知整改"},
        headers=keys.header(keys.operator),
    )
    assert acked.status_code == 200
    assert (
        acked.json()["ack_note"] == "已通知整改" and acked.json()["acknowledged_by"] == "operator"
    )
    assert acked.json()["state"] == "open"
    detail = (await client.get(f"/api/v1/flags/{flag_id}", headers=keys.header(keys.viewer))).json()
    assert [h["change"] for h in detail["history"]] == ["opened", "acknowledged"]
    missing = await client.get("/api/v1/flags/99999", headers=keys.header(keys.viewer))
    assert missing.status_code == 404
    hidden = await client.get(f"/api/v1/flags/{flag_id}", headers=keys.header(keys.scoped_viewer))
    assert hidden.status_code == 200  # 220102 is inside 2201


async def test_silence_suppresses_events_until_expiry(
    client: httpx.AsyncClient, keys: Keys, database: Database
) -> None:
    a = await _account(database, 1)
    await _decide(database, a, stale=True)
    flag_id = (await client.get("/api/v1/flags", headers=keys.header(keys.viewer))).json()["items"][
        0
    ]["id"]
    past = await client.post(
        f"/api/v1/flags/{flag_id}/silence",
        json={"reason": "x", "until": "2020-01-01T00:00:00+08:00"},
        headers=keys.header(keys.operator),
    )
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "until"
    naive = await client.post(
        f"/api/v1/flags/{flag_id}/silence",
        json={"reason": "x", "until": "2030-01-01T00:00:00"},
        headers=keys.header(keys.operator),
    )
    assert naive.status_code == 422
    until = utcnow() + timedelta(days=30)
    silenced = await client.post(
        f"/api/v1/flags/{flag_id}/silence",
        json={"reason": "账号迁移中", "until": until.isoformat()},
        headers=keys.header(keys.operator),
    )
    assert silenced.status_code == 200 and silenced.json()["silence_reason"] == "账号迁移中"
    before = await _events(database)
    await _decide(database, a, stale=False)
    await _decide(database, a, stale=True)
    assert await _events(database) == before  # silent: history kept, no events
    listed = (
        await client.get(
            "/api/v1/flags", params={"state": "open"}, headers=keys.header(keys.viewer)
        )
    ).json()["items"]
    assert listed[0]["silenced_until"] is not None and listed[0]["id"] != flag_id


@pytest.mark.parametrize(
    "params", [{"code": "nope"}, {"state": "maybe"}, {"since": "2026-01-01T00:00:00"}]
)
async def test_bad_filters(client: httpx.AsyncClient, keys: Keys, params: dict[str, str]) -> None:
    response = await client.get("/api/v1/flags", params=params, headers=keys.header(keys.viewer))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == next(iter(params))


async def test_archiving_resolves_open_flags(
    client: httpx.AsyncClient, keys: Keys, database: Database
) -> None:
    a = await _account(database, 1)
    await _decide(database, a, stale=True, zombie=True)
    await client.delete(f"/api/v1/accounts/{a}", headers=keys.header(keys.operator))
    open_now = (
        await client.get(
            "/api/v1/flags", params={"state": "open"}, headers=keys.header(keys.viewer)
        )
    ).json()["items"]
    assert open_now == []
    assert (await _events(database))[-3:] == ["flag.resolved", "flag.resolved", "account.archived"]
