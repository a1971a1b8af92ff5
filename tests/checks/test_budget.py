"""Every upstream request of a platform spends that platform's budget, whoever sends it, and
check-now answers 429 rather than overrun it."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

import monitors
from app.checks.pipeline import CheckRunner
from app.checks.transport import UpstreamClient
from app.config import Settings
from app.db import Database
from tests.checks.test_api import _accounts
from tests.conftest import Keys

PAGE = (
    "<html><head><title>某某市人民政府</title></head><body>"
    + "".join(f"<p>2026-11-0{d} 通知</p>" for d in range(1, 8))
    + "</body></html>"
)


async def test_each_request_and_redirect_hop_spends_a_token(settings: Settings) -> None:
    seen: list[str] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/":
            return httpx.Response(302, headers={"Location": "/index.html"})
        return httpx.Response(200, text=PAGE, headers={"Content-Type": "text/html"})

    client = UpstreamClient(transport=httpx.MockTransport(upstream))
    runner = CheckRunner(
        database=Database(settings.database_url),
        client=client,
        settings=settings.model_copy(update={"platform_rates": {"website": 10.0}}),
    )
    try:
        before = runner.limits.bucket("website").tokens
        await runner.observe("website", "https://www.example.gov.cn/")
        spent = before - runner.limits.bucket("website").tokens
        assert seen == ["/", "/index.html"]
        assert 1.9 < spent <= 2.0  # one token per request, the redirect hop too
        await client.get("https://www.example.gov.cn/")  # not for a check: not paced
        assert before - runner.limits.bucket("website").tokens == pytest.approx(spent, abs=0.1)
        assert runner.limits.bucket("weibo").tokens == 10.0  # another platform's budget
    finally:
        await client.aclose()
        await runner.database.dispose()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """One request per two seconds per platform: the first check-now spends the budget."""
    return settings.model_copy(update={"platform_rates": dict.fromkeys(monitors.PLATFORMS, 0.5)})


async def test_check_now_past_the_budget_is_429_and_checks_nothing(
    sim_client: tuple[httpx.AsyncClient, FastAPI],
    database: Database,
    keys: Keys,
    simulator: tuple[str, object],
) -> None:
    client, app = sim_client
    alive = (await _accounts(database, simulator))["alive"]
    operator = Keys.header(keys.operator)
    first = await client.post(f"/api/v1/accounts/{alive}/checks", headers=operator)
    assert first.status_code == 201, first.text
    second = await client.post(f"/api/v1/accounts/{alive}/checks", headers=operator)
    assert second.status_code == 429, second.text
    assert second.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(second.headers["retry-after"]) <= 2
    history = await client.get(f"/api/v1/accounts/{alive}/checks", headers=operator)
    assert len(history.json()["items"]) == 1  # the refused one sent nothing, stored nothing

    # What the canaries and the executors send goes through the same runner: it spends the
    # same bucket, and check-now is refused until the budget is back.
    runner: CheckRunner = app.state.runner
    account = (await client.get(f"/api/v1/accounts/{alive}", headers=operator)).json()
    bucket = runner.limits.bucket(account["platform"])
    await asyncio.sleep(bucket.wait_s() + 0.05)  # the budget comes back at the rate
    assert runner.budget_wait_s(account["platform"]) == 0
    await runner.observe(account["platform"], account["handle"])
    assert runner.budget_wait_s(account["platform"]) >= 1
    refused = await client.post(f"/api/v1/accounts/{alive}/checks", headers=operator)
    assert refused.status_code == 429
