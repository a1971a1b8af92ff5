"""Check-now, check history, all checks, platform health and readiness over the API."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI

from app.auth import service as auth_service
from app.auth.schemas import Role
from app.config import Settings
from app.db import Database, utcnow
from app.main import create_app
from app.scheduling import dispatch
from tests.conftest import Keys
from tests.support import register_population


async def _accounts(database: Database, simulator: tuple[str, object]) -> dict[str, int]:
    url, app = simulator
    registered = await register_population(database, app.state.population, url)  # type: ignore[attr-defined]
    by_scenario: dict[str, int] = {}
    for account_id, scripted in registered.items():
        by_scenario.setdefault(str(scripted.scenario), account_id)  # type: ignore[attr-defined]
    return by_scenario


async def test_check_now_answers_and_stores_the_observation(
    sim_client: tuple[httpx.AsyncClient, FastAPI],
    database: Database,
    keys: Keys,
    simulator: tuple[str, object],
) -> None:
    client, _ = sim_client
    ids = await _accounts(database, simulator)
    alive = ids["alive"]
    viewer = await client.post(f"/api/v1/accounts/{alive}/checks", headers=keys.header(keys.viewer))
    assert viewer.status_code == 403
    response = await client.post(
        f"/api/v1/accounts/{alive}/checks", headers=keys.header(keys.operator)
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["outcome"] == "ok" and body["outcome_class"] == "alive"
    assert body["evidence"]["http_status"] == 200 and body["last_post_at"]
    account = (
        await client.get(f"/api/v1/accounts/{alive}", headers=keys.header(keys.viewer))
    ).json()
    assert account["last_outcome"] == "ok" and account["last_checked_at"]

    gone = await client.post(
        f"/api/v1/accounts/{ids['deleted']}/checks", headers=keys.header(keys.operator)
    )
    assert gone.json()["outcome"] == "deleted" and gone.json()["evidence"]["marker"]
    missing = await client.post(
        "/api/v1/accounts/999999/checks", headers=keys.header(keys.operator)
    )
    assert missing.status_code == 404


async def test_history_and_filters(
    sim_client: tuple[httpx.AsyncClient, FastAPI],
    database: Database,
    keys: Keys,
    simulator: tuple[str, object],
) -> None:
    client, _ = sim_client
    ids = await _accounts(database, simulator)
    for _ in range(3):
        await client.post(
            f"/api/v1/accounts/{ids['alive']}/checks", headers=keys.header(keys.operator)
        )
    await client.post(
        f"/api/v1/accounts/{ids['captcha']}/checks", headers=keys.header(keys.operator)
    )
    history = (
        await client.get(
            f"/api/v1/accounts/{ids['alive']}/checks",
            params={"limit": 2},
            headers=keys.header(keys.viewer),
        )
    ).json()
    assert len(history["items"]) == 2 and history["next_cursor"]
    rest = (
        await client.get(
            f"/api/v1/accounts/{ids['alive']}/checks",
            params={"limit": 2, "cursor": history["next_cursor"]},
            headers=keys.header(keys.viewer),
        )
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    newest_first = [c["id"] for c in history["items"] + rest["items"]]
    assert newest_first == sorted(newest_first, reverse=True)

    blocked = (
        await client.get(
            "/api/v1/checks", params={"outcome": "blocked"}, headers=keys.header(keys.viewer)
        )
    ).json()["items"]
    assert [c["account_id"] for c in blocked] == [ids["captcha"]]
    since = (utcnow() + timedelta(hours=1)).isoformat()
    assert (
        await client.get(
            "/api/v1/checks", params={"since": since}, headers=keys.header(keys.viewer)
        )
    ).json()["items"] == []
    naive = await client.get(
        "/api/v1/checks", params={"since": "2026-01-01T00:00:00"}, headers=keys.header(keys.viewer)
    )
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "since"
    # Every account here is in region 220102; a key scoped elsewhere sees no checks.
    scoped = (await client.get("/api/v1/checks", headers=keys.header(keys.scoped_viewer))).json()
    assert len(scoped["items"]) == 4


async def test_platforms_show_outcomes_and_overdue(
    sim_client: tuple[httpx.AsyncClient, FastAPI],
    database: Database,
    keys: Keys,
    simulator: tuple[str, object],
) -> None:
    client, _ = sim_client
    ids = await _accounts(database, simulator)
    await client.post(f"/api/v1/accounts/{ids['alive']}/checks", headers=keys.header(keys.operator))
    platforms = (await client.get("/api/v1/platforms", headers=keys.header(keys.viewer))).json()
    by_name = {p["platform"]: p for p in platforms}
    assert set(by_name) == {
        "weibo",
        "wechat",
        "douyin",
        "appstore",
        "huawei",
        "xiaomi",
        "yyb",
        "rss",
        "website",
    }
    checked = [p for p in platforms if p["outcomes_last_hour"]]
    assert len(checked) == 1 and checked[0]["outcomes_last_hour"] == {"ok": 1}
    assert sum(p["overdue"] for p in platforms) == len(await _count(database)) - 1
    # The counts cover the key's region: every account here is in 220102.
    inside = await client.get("/api/v1/platforms", headers=keys.header(keys.scoped_viewer))
    assert inside.json() == platforms
    async with database.write_session() as session:
        _row, beijing = await auth_service.create_key(
            session, name="beijing", role=Role.VIEWER, region_prefix="1101"
        )
    outside = (await client.get("/api/v1/platforms", headers=keys.header(beijing))).json()
    assert all(p["overdue"] == 0 and p["outcomes_last_hour"] == {} for p in outside)
    assert [p["degraded"] for p in outside] == [p["degraded"] for p in platforms]


async def _count(database: Database) -> list[int]:
    from sqlmodel import col, select

    from app.accounts.models import Account

    async with database.read_session() as session:
        return list((await session.exec(select(col(Account.id)))).all())


async def test_readyz_fails_when_the_scheduler_stalls(settings: Settings) -> None:
    app = create_app(
        settings.model_copy(update={"scheduler_enabled": True, "claim_interval_s": 1000})
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            # Stop the jobs so the test alone writes the heartbeat, then tick once by hand.
            await app.state.scheduler.shutdown()
            await app.state.scheduler.tick()
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["scheduler_last_tick"]
            stale = utcnow() - timedelta(seconds=3001)
            async with app.state.database.write_session() as session:
                await dispatch.record_tick(session, app.state.scheduler.name, stale, 0)
            stalled = await client.get("/readyz")
            assert stalled.status_code == 503
            assert "not ticked" in stalled.json()["detail"]
