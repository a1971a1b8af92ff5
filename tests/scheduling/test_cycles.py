"""Scheduling over simulated time with the inline executor: every account once per cycle,
expired leases make accounts due again, and stale claims store nothing.

Time moves with time-machine and ``now`` is passed to each tick; nothing sleeps to wait.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import time_machine
from sqlalchemy import func
from sqlmodel import col, select

from app.accounts.models import Account
from app.checks.models import CheckResult
from app.checks.pipeline import CheckRunner, run_check
from app.config import Settings
from app.db import Database
from app.scheduling.dispatch import Claim
from app.scheduling.inline import InlineExecutor
from app.scheduling.scheduler import Scheduler
from tests.support import register_population, running_simulator

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
INTERVAL = 3600


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[str, object]]:
    with running_simulator(120, 3) as running:
        yield running


@pytest.fixture
def traveller() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as coordinates:
        yield coordinates


@pytest.fixture
async def runner(
    database: Database, settings: Settings, simulator: tuple[str, object]
) -> AsyncIterator[CheckRunner]:
    url, _app = simulator
    cycle_settings = settings.model_copy(
        update={
            "simulator_url": url,
            "check_interval_s": INTERVAL,
            "check_jitter": 0.05,
            "gone_confirm_delay_s": 600,
            "unknown_backoff_s": 120,
            "lease_s": 300,
            "max_concurrency": 40,
            "platform_rates": {p: 1000.0 for p in _PLATFORMS},
        }
    )
    async with httpx.AsyncClient(timeout=10) as client:
        yield CheckRunner(database=database, client=client, settings=cycle_settings)


_PLATFORMS = ("weibo", "wechat", "douyin", "appstore", "huawei", "xiaomi", "yyb", "rss", "website")


async def _checks_per_account(database: Database) -> Counter[int]:
    async with database.read_session() as session:
        rows = (
            await session.exec(
                select(col(CheckResult.account_id), func.count()).group_by(
                    col(CheckResult.account_id)
                )
            )
        ).all()
    return Counter({account_id: count for account_id, count in rows})


async def _run_cycle(scheduler: Scheduler, executor: InlineExecutor, now: datetime) -> int:
    claimed = 0
    while True:
        got = await scheduler.tick(now)
        await executor.drain()
        claimed += got
        if got == 0:
            return claimed


async def test_every_account_once_per_cycle(
    runner: CheckRunner,
    database: Database,
    simulator: tuple[str, object],
    traveller: time_machine.Coordinates,
) -> None:
    url, app = simulator
    accounts = await register_population(database, app.state.population, url)  # type: ignore[attr-defined]
    executor = InlineExecutor(runner)
    scheduler = Scheduler(runner, executor, name="test")

    assert await _run_cycle(scheduler, executor, START) == len(accounts)
    first = await _checks_per_account(database)
    assert set(first) == set(accounts) and set(first.values()) == {1}

    # Half an interval later nothing healthy is due; only short back-offs and gone confirms.
    traveller.shift(timedelta(seconds=INTERVAL // 2))
    await _run_cycle(scheduler, executor, START + timedelta(seconds=INTERVAL // 2))
    mid = await _checks_per_account(database)
    rechecked = {i for i in accounts if mid[i] > 1}
    scenarios = {str(accounts[i].scenario) for i in rechecked}  # type: ignore[attr-defined]
    assert scenarios <= {"captcha", "rate_limited", "flapping", "deleted", "banned", "not_found"}

    # After a whole interval (and its jitter) every account is due again, exactly once more.
    later = START + timedelta(seconds=int(INTERVAL * 1.06))
    traveller.move_to(later)
    await _run_cycle(scheduler, executor, later)
    after = await _checks_per_account(database)
    for account_id in accounts:
        assert after[account_id] >= 2
        assert after[account_id] - mid[account_id] <= 1


async def test_an_expired_lease_makes_the_account_due_again(
    runner: CheckRunner,
    database: Database,
    simulator: tuple[str, object],
    traveller: time_machine.Coordinates,
) -> None:
    url, app = simulator
    accounts = await register_population(
        database, app.state.population, url, platforms={"appstore"}
    )

    class Lost:
        """An executor whose worker dies: claims are taken and never run."""

        def __init__(self) -> None:
            self.claims: list[Claim] = []

        def capacity(self) -> int:
            return 1000

        async def submit(self, claims: list[Claim]) -> None:
            self.claims.extend(claims)

    lost = Lost()
    scheduler = Scheduler(runner, lost, name="test")
    assert await scheduler.tick(START) == len(accounts)
    assert await scheduler.tick(START + timedelta(seconds=299)) == 0
    traveller.move_to(START + timedelta(seconds=301))
    executor = InlineExecutor(runner)
    scheduler = Scheduler(runner, executor, name="test")
    assert await scheduler.tick(START + timedelta(seconds=301)) == len(accounts)
    await executor.drain()

    # The dead worker's claims are stale now: running one stores nothing.
    assert (
        await run_check(runner, lost.claims[0].account_id, lease_token=lost.claims[0].lease_token)
        is None
    )
    counts = await _checks_per_account(database)
    assert set(counts) == set(accounts) and set(counts.values()) == {1}


async def test_snapshot_and_schedule_after_a_check(
    runner: CheckRunner,
    database: Database,
    simulator: tuple[str, object],
    traveller: time_machine.Coordinates,
) -> None:
    url, app = simulator
    accounts = await register_population(database, app.state.population, url)  # type: ignore[attr-defined]
    by_scenario: dict[str, int] = {}
    for account_id, scripted in accounts.items():
        by_scenario.setdefault(str(scripted.scenario), account_id)  # type: ignore[attr-defined]
    for scenario in ("alive", "rate_limited", "deleted"):
        row = await run_check(runner, by_scenario[scenario])
        assert row is not None
    async with database.read_session() as session:
        alive = await session.get(Account, by_scenario["alive"])
        limited = await session.get(Account, by_scenario["rate_limited"])
        deleted = await session.get(Account, by_scenario["deleted"])
    assert alive and limited and deleted
    assert alive.last_outcome == "ok" and alive.observed_name and alive.last_post_at
    assert alive.next_check_at is not None
    assert INTERVAL * 0.94 <= (alive.next_check_at - START).total_seconds() <= INTERVAL * 1.06
    assert limited.last_outcome == "rate_limited" and limited.unknown_streak == 1
    assert limited.followers is None  # an unknown answer changes no counts
    assert limited.next_check_at is not None
    # The simulator's Retry-After is 60 s, below the 120 s back-off.
    assert 110 <= (limited.next_check_at - START).total_seconds() <= 130
    assert deleted.last_outcome == "deleted"
    assert deleted.next_check_at is not None
    assert 560 <= (deleted.next_check_at - START).total_seconds() <= 640
