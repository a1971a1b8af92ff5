"""The simulator's hostile modes: the control endpoint, spells that end, and every refusal
mode answered as unknown (never gone) by every real adapter over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

import monitors
from app.checks.pipeline import make_http_client
from app.config import Settings
from monitors.base import Outcome
from monitors.config import MonitorConfig
from monitors.simulator.hostile import EXPECTED_OUTCOME, Mode, platform_of_path
from monitors.simulator.population import Scenario, SimAccount
from monitors.simulator.server import (
    URL_HANDLE_PLATFORMS,
    create_app,
    load_platform_sims,
    public_handle,
)
from tests.support import running_simulator

#: Short enough for a test, long past the client timeout below.
HANG_S = 1.5
CLIENT_TIMEOUT_S = 0.4
GONE_SCENARIOS = (Scenario.NOT_FOUND, Scenario.DELETED, Scenario.BANNED)


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim")


def _first(app: Starlette, platform: str, *scenarios: Scenario) -> SimAccount | None:
    return next(
        (
            a
            for a in app.state.population.accounts
            if a.platform == platform and a.scenario in scenarios
        ),
        None,
    )


@pytest.mark.parametrize(
    ("path", "platform"),
    [
        ("/weibo/api/container/getIndex", "weibo"),
        ("/weibo-pc/ajax/profile/info", "weibo"),
        ("/weibo-passport/visitor/genvisitor", "weibo"),
        ("/rsshub/wechat/feeds/x", "wechat"),
        ("/website/sites/site-00001/", "website"),
        ("/population", None),
        ("/_control/hostile", None),
        ("/", None),
    ],
)
def test_paths_belong_to_their_platform(path: str, platform: str | None) -> None:
    assert platform_of_path(path) == platform


async def test_control_endpoint_turns_reports_and_lifts_spells() -> None:
    clock = _Clock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    app = create_app(60, 1, clock=clock)
    async with _client(app) as client:
        assert (await client.get("/_control/hostile")).json() == {}
        turned = await client.post(
            "/_control/hostile",
            json={"platforms": ["weibo", "yyb"], "mode": "rate_limited", "retry_after_s": 30},
        )
        assert turned.status_code == 200
        assert turned.json()["yyb"] == {
            "mode": "rate_limited",
            "until": None,
            "hang_s": 60.0,
            "retry_after_s": 30,
        }
        assert set((await client.get("/_control/hostile")).json()) == {"weibo", "yyb"}
        lifted = await client.delete("/_control/hostile", params={"platforms": "yyb"})
        assert set(lifted.json()) == {"weibo"}
        assert (await client.delete("/_control/hostile")).json() == {}


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"platforms": ["weibo"], "mode": "sulk"}, "mode must be one of"),
        ({"platforms": ["myspace"], "mode": "captcha"}, "platforms must be some of"),
        ({"platforms": [], "mode": "captcha"}, "platforms must be some of"),
        ({"mode": "captcha"}, '"platforms" list'),
        ({"platforms": ["weibo"], "mode": "captcha", "until": "2026-06-01T13:00"}, "time zone"),
        ({"platforms": ["weibo"], "mode": "captcha", "for_s": "soon"}, "for_s"),
        ({"platforms": ["weibo"], "mode": "timeout", "hang_s": -1}, "negative"),
    ],
)
async def test_control_endpoint_refuses_bad_requests(body: object, complaint: str) -> None:
    app = create_app(20, 1)
    async with _client(app) as client:
        response = await client.post("/_control/hostile", json=body)
        assert response.status_code == 400
        assert complaint in response.json()["error"]
        assert (await client.get("/_control/hostile")).json() == {}
        bad_lift = await client.delete("/_control/hostile", params={"platforms": "myspace"})
        assert bad_lift.status_code == 400


async def test_a_spell_ends_when_its_time_is_up() -> None:
    clock = _Clock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    app = create_app(60, 1, clock=clock)
    account = _first(app, "appstore", Scenario.ALIVE)
    assert account is not None
    async with _client(app) as client:
        await client.post(
            "/_control/hostile", json={"platforms": ["appstore"], "mode": "http_432", "for_s": 60}
        )
        lookup = {"id": account.handle}
        assert (await client.get("/appstore/lookup", params=lookup)).status_code == 432
        clock.now += timedelta(seconds=59)
        assert (await client.get("/appstore/lookup", params=lookup)).status_code == 432
        clock.now += timedelta(seconds=1)
        calm = await client.get("/appstore/lookup", params=lookup)
        assert calm.status_code == 200 and '"resultCount": 1' in calm.text
        assert (await client.get("/_control/hostile")).json() == {}


# --- every adapter against every mode, over real sockets -----------------------------------


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[str, Starlette]]:
    with running_simulator(200, 1) as running:
        yield running


def _service_client(simulator_url: str) -> httpx.AsyncClient:
    """The client ``liveness serve`` checks with (cookie-less, guarded, short timeout)."""
    settings = Settings(
        _env_file=None, simulator_url=simulator_url, http_timeout_s=CLIENT_TIMEOUT_S
    )
    return make_http_client(settings)


async def _observe_all(
    url: str, app: Starlette, scenarios: tuple[Scenario, ...]
) -> dict[tuple[str, Scenario], Outcome]:
    """Observe, with each real adapter and the service's client, one account of each
    scenario its platform has."""
    config = MonitorConfig(website_timeout_s=CLIENT_TIMEOUT_S).with_base(url)
    targets = [
        (platform, account)
        for platform in monitors.PLATFORMS
        for scenario in scenarios
        if (account := _first(app, platform, scenario)) is not None
    ]
    async with _service_client(url) as client:
        observations = await asyncio.gather(
            *(
                monitors.get(platform, config).observe(public_handle(account, url), client)
                for platform, account in targets
            )
        )
    return {
        (platform, account.scenario): obs.outcome
        for (platform, account), obs in zip(targets, observations, strict=True)
    }


@pytest.mark.parametrize("mode", list(EXPECTED_OUTCOME))
async def test_every_adapter_answers_a_hostile_platform_with_unknown(
    mode: Mode, live: tuple[str, Starlette]
) -> None:
    """Alive and gone accounts alike get the mode's unknown outcome while their platform is
    hostile, and their own outcome again once it is lifted, through the service's client."""
    url, app = live
    async with httpx.AsyncClient(base_url=url) as control:
        turned = await control.post(
            "/_control/hostile",
            json={"platforms": list(monitors.PLATFORMS), "mode": mode.value, "hang_s": HANG_S},
        )
        assert turned.status_code == 200
        try:
            hostile = await _observe_all(url, app, (Scenario.ALIVE, *GONE_SCENARIOS))
        finally:
            await control.delete("/_control/hostile")
    assert {platform for platform, _ in hostile} == set(monitors.PLATFORMS)
    wrong = {
        key: outcome for key, outcome in hostile.items() if outcome is not EXPECTED_OUTCOME[mode]
    }
    assert not wrong, f"{mode}: {wrong}"
    assert not any(outcome.is_gone for outcome in hostile.values())

    calm = await _observe_all(url, app, (Scenario.ALIVE,))
    assert set(calm.values()) == {Outcome.OK}


async def test_absent_mode_answers_as_the_platform_does_for_an_unknown_handle(
    live: tuple[str, Starlette],
) -> None:
    """While a platform denies every account exists, an alive account gets exactly what a
    handle the platform never held gets: gone where the platform has a not-found marker
    (the lie only canaries can catch), unknown where it has none."""
    url, app = live
    config = MonitorConfig(website_timeout_s=CLIENT_TIMEOUT_S).with_base(url)
    # An index far past the population's size: a valid handle the platform never held.
    strangers = {
        sim.PLATFORM: (url if sim.PLATFORM in URL_HANDLE_PLATFORMS else "")
        + sim.make_handle(99_999)
        for sim in load_platform_sims()
    }
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_S) as client:
        unknown_handle = {
            p: (await monitors.get(p, config).observe(h, client)).outcome
            for p, h in strangers.items()
        }
        async with httpx.AsyncClient(base_url=url) as control:
            await control.post(
                "/_control/hostile", json={"platforms": list(monitors.PLATFORMS), "mode": "absent"}
            )
            try:
                denied = await _observe_all(url, app, (Scenario.ALIVE,))
            finally:
                await control.delete("/_control/hostile")
    assert {p: outcome for (p, _), outcome in denied.items()} == unknown_handle
    assert {p for p, outcome in unknown_handle.items() if outcome.is_gone} >= {
        "weibo",
        "appstore",
        "huawei",
        "xiaomi",
        "yyb",
        "rss",
    }


async def test_only_the_named_platforms_turn_hostile(live: tuple[str, Starlette]) -> None:
    url, app = live
    async with httpx.AsyncClient(base_url=url) as control:
        await control.post("/_control/hostile", json={"platforms": ["weibo"], "mode": "captcha"})
        try:
            seen = await _observe_all(url, app, (Scenario.ALIVE,))
        finally:
            await control.delete("/_control/hostile")
    assert seen.pop(("weibo", Scenario.ALIVE)) is Outcome.BLOCKED
    assert set(seen.values()) == {Outcome.OK}
