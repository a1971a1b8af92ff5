"""The simulator's scripted population: who exists on each platform and what is true of them.

The mix is deterministic for a (size, seed) pair so tests, the demo and benchmarks can rely on
it. Each platform module in ``monitors/simulator/platforms/`` renders these truths in the
platform's real response shapes.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from starlette.routing import BaseRoute

from monitors.base import Outcome

__all__ = [
    "EXPECTED_OUTCOME",
    "SCENARIO_WEIGHTS",
    "PlatformSim",
    "Population",
    "Scenario",
    "SimAccount",
    "build_population",
]


class Scenario(enum.StrEnum):
    """What the simulator scripts for one account."""

    ALIVE = "alive"  # posted within the last 2 days
    STALE = "stale"  # last post 20 days ago (fails the 14-day rule)
    SILENT = "silent"  # last post 200 days ago (a zombie)
    OUTDATED = "outdated"  # an app whose current version is 400 days old (app_outdated)
    EMPTY = "empty"  # exists, no content at all
    PRIVATE = "private"  # exists, content restricted
    NOT_FOUND = "not_found"  # never existed / not listed
    DELETED = "deleted"  # self-deleted (注销)
    BANNED = "banned"  # suspended by the platform (封禁/屏蔽)
    CAPTCHA = "captcha"  # every request answered with a captcha page
    RATE_LIMITED = "rate_limited"  # every request answered 429 / frequency message
    FLAPPING = "flapping"  # alive, but every other request fails with a 5xx


#: Relative weight of each scenario in a population, before platform support is applied.
SCENARIO_WEIGHTS: dict[Scenario, int] = {
    Scenario.ALIVE: 40,
    Scenario.STALE: 12,
    Scenario.SILENT: 10,
    Scenario.OUTDATED: 6,
    Scenario.EMPTY: 6,
    Scenario.PRIVATE: 3,
    Scenario.NOT_FOUND: 4,
    Scenario.DELETED: 5,
    Scenario.BANNED: 5,
    Scenario.CAPTCHA: 5,
    Scenario.RATE_LIMITED: 5,
    Scenario.FLAPPING: 5,
}

#: Days since the newest post for scenarios that have posts.
LAST_POST_DAYS: dict[Scenario, float] = {
    Scenario.ALIVE: 1.0,
    Scenario.STALE: 20.0,
    Scenario.SILENT: 200.0,
    Scenario.OUTDATED: 400.0,
    Scenario.FLAPPING: 1.0,
    Scenario.PRIVATE: 1.0,
}

#: The outcome an adapter must report for each scenario (flapping: ok, or error on odd requests).
EXPECTED_OUTCOME: dict[Scenario, Outcome] = {
    Scenario.ALIVE: Outcome.OK,
    Scenario.STALE: Outcome.OK,
    Scenario.SILENT: Outcome.OK,
    Scenario.OUTDATED: Outcome.OK,
    Scenario.EMPTY: Outcome.EMPTY,
    Scenario.PRIVATE: Outcome.PRIVATE,
    Scenario.NOT_FOUND: Outcome.NOT_FOUND,
    Scenario.DELETED: Outcome.DELETED,
    Scenario.BANNED: Outcome.BANNED,
    Scenario.CAPTCHA: Outcome.BLOCKED,
    Scenario.RATE_LIMITED: Outcome.RATE_LIMITED,
    Scenario.FLAPPING: Outcome.OK,
}


@dataclass(slots=True)
class SimAccount:
    """One scripted account. ``handle`` is the platform handle (for rss and website, a path
    relative to the simulator's root such as ``/website/sites/site-0001/``)."""

    platform: str
    handle: str
    scenario: Scenario
    display_name: str
    followers: int
    post_count: int
    verified: bool
    last_post_days: float | None
    requests: int = 0

    def expected_outcome(self) -> Outcome:
        """The outcome a correct adapter reports on a clean (non-flapping-failure) request."""
        return EXPECTED_OUTCOME[self.scenario]

    def last_post_at(self, now: datetime) -> datetime | None:
        """The newest post's time as of ``now`` (moves with the clock: an alive account stays
        alive)."""
        if self.last_post_days is None:
            return None
        return now - timedelta(days=self.last_post_days)

    def post_times(self, now: datetime, count: int = 10) -> list[datetime]:
        """Times of the first page of posts, newest first, two days apart."""
        newest = self.last_post_at(now)
        if newest is None:
            return []
        return [newest - timedelta(days=2 * i) for i in range(min(count, self.post_count))]

    def next_request_fails(self) -> bool:
        """Count a request; for flapping accounts, every second request fails."""
        self.requests += 1
        return self.scenario is Scenario.FLAPPING and self.requests % 2 == 0


@dataclass(slots=True)
class Population:
    """Every scripted account, looked up by (platform, handle). ``denies(platform)`` says
    whether a platform currently denies every account exists (hostile mode ``absent``)."""

    accounts: list[SimAccount] = field(default_factory=list)
    _index: dict[tuple[str, str], SimAccount] = field(default_factory=dict)
    denies: Callable[[str], bool] | None = None

    def add(self, account: SimAccount) -> None:
        self.accounts.append(account)
        self._index[(account.platform, account.handle)] = account

    def find(self, platform: str, handle: str) -> SimAccount | None:
        """The scripted account, or None: the platform then answers "no such account"."""
        if self.denies is not None and self.denies(platform):
            return None
        return self._index.get((platform, handle))


class PlatformSim(Protocol):
    """What each module in ``monitors/simulator/platforms/`` provides."""

    PLATFORM: str
    SCENARIOS: frozenset[Scenario]

    def make_handle(self, index: int) -> str:
        """A valid handle for the index-th account of the population."""
        ...

    def routes(self, population: Population, clock: Callable[[], datetime]) -> list[BaseRoute]:
        """Starlette routes with full paths under the platform's prefix (see
        ``MonitorConfig.with_base``), answering in the platform's real response shapes."""
        ...


def build_population(size: int, seed: int, platforms: Sequence[PlatformSim]) -> Population:
    """Build ``size`` accounts spread round-robin over ``platforms``.

    Each platform's first accounts take each scenario it can express once, in an order
    shuffled by the seed, so a population with as many accounts per platform as it has
    scenarios holds every one of them (every flag kind has something to open on); later
    accounts draw their scenario by weight. The same arguments give the same population.
    """
    rng = random.Random(seed)
    ordered = sorted(platforms, key=lambda p: p.PLATFORM)
    allowed = [[s for s in SCENARIO_WEIGHTS if s in sim.SCENARIOS] for sim in ordered]
    openers = [rng.sample(scenarios, len(scenarios)) for scenarios in allowed]
    population = Population()
    for index in range(size):
        slot = index % len(ordered)
        sim = ordered[slot]
        if openers[slot]:
            scenario = openers[slot].pop()
        else:
            weights = [SCENARIO_WEIGHTS[s] for s in allowed[slot]]
            scenario = rng.choices(allowed[slot], weights=weights)[0]
        has_posts = scenario in LAST_POST_DAYS
        population.add(
            SimAccount(
                platform=sim.PLATFORM,
                handle=sim.make_handle(index),
                scenario=scenario,
                display_name=f"模拟政务账号{index:05d}",
                followers=0 if scenario is Scenario.EMPTY else rng.randint(100, 2_000_000),
                post_count=rng.randint(15, 5000) if has_posts else 0,
                verified=rng.random() < 0.8,
                last_post_days=LAST_POST_DAYS.get(scenario),
            )
        )
    return population
