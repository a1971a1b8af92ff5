"""The simulator server, and every adapter run against it over real sockets.

The integration test is the contract between the simulator modules and the adapters: for each
scripted account the adapter must report the scripted outcome. A platform whose adapter or
simulator module is not written yet is skipped with a reason, so it shows up on its own.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Route

import monitors
from monitors.base import Observation, Outcome
from monitors.config import MonitorConfig
from monitors.report import check_once
from monitors.simulator.population import (
    Population,
    Scenario,
    SimAccount,
    build_population,
)
from monitors.simulator.server import (
    URL_HANDLE_PLATFORMS,
    create_app,
    load_platform_sims,
    public_handle,
)
from tests.support import running_simulator

INTEGRATION_SIZE = 300
INTEGRATION_SEED = 1
#: How far before the scripted time an adapter's last_post_at may be: some simulated pages
#: show the minute only, as the real ones show the day.
LAST_POST_TOLERANCE = timedelta(minutes=1)

SIMS = {sim.PLATFORM: sim for sim in load_platform_sims()}


class _FixedClock:
    """A clock a test can move."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class _FakeSim:
    """A minimal platform module so the server can be tested without any real one."""

    SCENARIOS = frozenset(Scenario)

    def __init__(self, platform: str) -> None:
        self.PLATFORM = platform

    def make_handle(self, index: int) -> str:
        if self.PLATFORM in URL_HANDLE_PLATFORMS:
            return f"/{self.PLATFORM}/sites/site-{index:05d}/"
        return str(1_000_000 + index)

    def routes(self, population: Population, clock: Callable[[], datetime]) -> list[BaseRoute]:
        async def page(request: Request) -> PlainTextResponse:
            account = population.find(self.PLATFORM, request.path_params["handle"])
            return PlainTextResponse(account.display_name if account else "no such account")

        return [Route(f"/{self.PLATFORM}/u/{{handle}}", page)]


def _fake_app(**kwargs: Any) -> Starlette:
    return create_app(
        40,
        7,
        platforms=[_FakeSim("weibo"), _FakeSim("website")],
        public_url="http://sim:9000",
        **kwargs,
    )


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim:9000")


def _summary(population: Population) -> list[tuple[object, ...]]:
    return [
        (a.platform, a.handle, a.scenario, a.display_name, a.followers, a.post_count, a.verified)
        for a in population.accounts
    ]


async def test_population_endpoint_lists_accounts_with_full_urls() -> None:
    clock = _FixedClock(datetime(2025, 6, 1, 12, 0, tzinfo=UTC))
    app = _fake_app(clock=clock)
    async with _client(app) as client:
        everyone = (await client.get("/population")).json()
        websites = (await client.get("/population", params={"platform": "website"})).json()
    assert len(everyone) == 40
    assert {row["platform"] for row in everyone} == {"weibo", "website"}
    assert len(websites) == 20
    assert all(row["handle"].startswith("http://sim:9000/website/sites/site-") for row in websites)
    weibo_row = next(row for row in everyone if row["platform"] == "weibo")
    assert weibo_row["handle"].isdigit()
    for row in everyone:
        account = app.state.population.find(
            row["platform"], row["handle"].removeprefix("http://sim:9000")
        )
        assert row["scenario"] == account.scenario.value
        assert row["expected_outcome"] == account.expected_outcome().value
        assert row["display_name"] == account.display_name
        expected = account.last_post_at(clock.now)
        assert row["last_post_at"] == (expected.isoformat() if expected else None)


async def test_population_follows_the_injected_clock() -> None:
    clock = _FixedClock(datetime(2025, 6, 1, 12, 0, tzinfo=UTC))
    app = _fake_app(clock=clock)
    async with _client(app) as client:
        before = (await client.get("/population")).json()
        clock.now += timedelta(days=30)
        after = (await client.get("/population")).json()
    moved = [(b, a) for b, a in zip(before, after, strict=True) if b["last_post_at"] is not None]
    assert moved
    for b, a in moved:
        shift = datetime.fromisoformat(a["last_post_at"]) - datetime.fromisoformat(
            b["last_post_at"]
        )
        assert shift == timedelta(days=30)


async def test_handle_root_defaults_to_the_request_url() -> None:
    app = create_app(10, 7, platforms=[_FakeSim("rss")])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8123"
    ) as client:
        rows = (await client.get("/population")).json()
    assert rows[0]["handle"] == "http://127.0.0.1:8123/rss/sites/site-00000/"


async def test_healthz_and_platform_routes_are_served() -> None:
    app = _fake_app()
    account = next(a for a in app.state.population.accounts if a.platform == "weibo")
    async with _client(app) as client:
        assert (await client.get("/healthz")).text == "ok"
        page = await client.get(f"/weibo/u/{account.handle}")
        unknown = await client.get("/weibo/u/42")
    assert page.text == account.display_name
    assert unknown.text == "no such account"


async def test_latency_is_added_to_every_request() -> None:
    app = _fake_app(latency_ms=150)
    async with _client(app) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client.get("/healthz") for _ in range(5)))
        elapsed = time.perf_counter() - started
    assert 0.15 <= elapsed < 0.6  # concurrent requests wait in parallel, not in series


def test_population_is_deterministic_for_a_seed() -> None:
    sims = [_FakeSim("weibo"), _FakeSim("rss"), *SIMS.values()]
    first = build_population(500, 3, sims)
    assert _summary(first) == _summary(build_population(500, 3, sims))
    assert _summary(first) != _summary(build_population(500, 4, sims))


def test_server_population_is_deterministic_for_a_seed() -> None:
    first = create_app(200, 11).state.population
    assert _summary(first) == _summary(create_app(200, 11).state.population)


def _need_sim(platform: str) -> Any:
    sim = SIMS.get(platform)
    if sim is None:
        pytest.skip(f"monitors/simulator/platforms/{platform}.py is not written yet")
    return sim


def _need_adapter(platform: str) -> None:
    if importlib.util.find_spec(f"monitors.{platform}") is None:
        pytest.skip(f"adapter monitors/{platform}.py is not written yet")


@pytest.mark.parametrize("platform", monitors.PLATFORMS)
def test_sim_module_declares_valid_handles_and_scenarios(platform: str) -> None:
    sim = _need_sim(platform)
    assert platform == sim.PLATFORM
    assert sim.SCENARIOS
    assert sim.SCENARIOS.issubset(frozenset(Scenario))
    handles = [sim.make_handle(index) for index in range(0, 3000, 7)]
    assert handles == [sim.make_handle(index) for index in range(0, 3000, 7)]
    assert len(set(handles)) == len(handles)
    for handle in handles:
        full = f"http://127.0.0.1:9000{handle}" if platform in URL_HANDLE_PLATFORMS else handle
        assert monitors.normalize_handle(platform, full) == full


@pytest.mark.parametrize("platform", monitors.PLATFORMS)
def test_population_of_1000_has_every_supported_scenario(platform: str) -> None:
    _need_sim(platform)
    population = create_app(1000, INTEGRATION_SEED).state.population
    seen = {a.scenario for a in population.accounts if a.platform == platform}
    assert seen == SIMS[platform].SCENARIOS


README = Path(__file__).parents[2] / "monitors" / "simulator" / "README.md"


@pytest.mark.parametrize("platform", monitors.PLATFORMS)
def test_readme_documents_the_scenarios_of_each_platform(platform: str) -> None:
    sim = _need_sim(platform)
    lines = README.read_text(encoding="utf-8").splitlines()
    header = next(line for line in lines if line.startswith("| platform |"))
    row = next((line for line in lines if line.startswith(f"| {platform} |")), None)
    assert row is not None, f"monitors/simulator/README.md has no row for {platform}"
    names = [cell.strip() for cell in header.strip("|").split("|")][1:]
    marks = [cell.strip() for cell in row.strip("|").split("|")][1:]
    documented = {Scenario(name) for name, mark in zip(names, marks, strict=True) if mark == "✓"}
    assert documented == sim.SCENARIOS


# --- the integration test: real sockets, real adapters -------------------------------------


@pytest.fixture(scope="module")
def live_simulator() -> Iterator[tuple[str, Starlette]]:
    """The simulator on a free 127.0.0.1 port, shared by this module's tests."""
    with running_simulator(INTEGRATION_SIZE, INTEGRATION_SEED) as running:
        yield running


@dataclass(frozen=True, slots=True)
class _Timed:
    """An observation with the wall-clock window it was made in."""

    obs: Observation
    started: datetime
    finished: datetime


def _mismatch(account: SimAccount, timed: _Timed, round_: int) -> str | None:
    """Why the observation disagrees with the script, or None when it agrees. A flapping
    account answers its first check and fails its second."""
    obs = timed.obs
    expected = account.expected_outcome()
    if account.scenario is Scenario.FLAPPING and round_ == 2:
        expected = Outcome.ERROR
    if obs.outcome is not expected:
        return f"expected {expected}, got {obs.outcome}"
    if obs.outcome is Outcome.OK:
        # The server rendered the date somewhere inside the window, possibly truncated to the
        # minute; anything outside [earliest - 1 min, latest + 1 s] is a wrong date.
        earliest = account.last_post_at(timed.started)
        latest = account.last_post_at(timed.finished)
        if earliest is None or latest is None or obs.last_post_at is None:
            return f"last_post_at {obs.last_post_at}, scripted {earliest}"
        if not earliest - LAST_POST_TOLERANCE <= obs.last_post_at <= latest + timedelta(seconds=1):
            return f"last_post_at {obs.last_post_at.isoformat()}, scripted {earliest.isoformat()}"
    return None


@pytest.mark.parametrize("platform", monitors.PLATFORMS)
async def test_adapter_reports_the_scripted_outcome(
    platform: str, live_simulator: tuple[str, Starlette]
) -> None:
    """Every account is observed twice: the answer must not drift, and the second look at a
    flapping account lands on its failing request, which must be an error, never gone."""
    _need_sim(platform)
    _need_adapter(platform)
    url, app = live_simulator
    accounts = [a for a in app.state.population.accounts if a.platform == platform]
    assert accounts, f"no {platform} accounts in the population"
    monitor = monitors.get(platform, MonitorConfig().with_base(url))
    limit = asyncio.Semaphore(20)

    async def observe(account: SimAccount, client: httpx.AsyncClient) -> _Timed:
        async with limit:
            started = datetime.now(UTC)
            obs = await monitor.observe(public_handle(account, url), client)
            return _Timed(obs, started, datetime.now(UTC))

    problems = []
    async with httpx.AsyncClient(timeout=10) as client:
        for round_ in (1, 2):
            observations = await asyncio.gather(*(observe(a, client) for a in accounts))
            for account, timed in zip(accounts, observations, strict=True):
                why = _mismatch(account, timed, round_)
                if why:
                    evidence = timed.obs.evidence
                    problems.append(
                        f"round {round_} {account.scenario} {account.handle}: {why} "
                        f"(status {evidence.http_status}, marker {evidence.marker!r}, "
                        f"error {timed.obs.error!r})"
                    )
    assert not problems, f"{len(problems)} of {2 * len(accounts)} {platform} observations:\n" + (
        "\n".join(problems)
    )


async def test_check_once_against_the_simulator(live_simulator: tuple[str, Starlette]) -> None:
    url, app = live_simulator
    alive = [
        a
        for a in app.state.population.accounts
        if a.scenario is Scenario.ALIVE and importlib.util.find_spec(f"monitors.{a.platform}")
    ]
    if not alive:
        pytest.skip("no platform has both an adapter and a simulator module yet")
    account = alive[0]
    async with httpx.AsyncClient(timeout=10) as client:
        obs = await check_once(
            account.platform, public_handle(account, url), MonitorConfig().with_base(url), client
        )
    assert obs.outcome is Outcome.OK, obs
