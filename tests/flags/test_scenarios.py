"""Flags over simulated months: each opens at its threshold (not a day before), holds through
unknown answers, resolves when the account comes back, and a silence lasts until it expires.

Time moves with time-machine; checks run through the real pipeline with a scripted adapter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import time_machine
from sqlmodel import col, select

from app.accounts.models import Account
from app.checks import service as checks_service
from app.checks.models import PlatformHealth
from app.checks.pipeline import CheckRunner, run_check
from app.config import Settings
from app.db import Database, utcnow
from app.events.models import OutboxEvent
from app.flags import service
from app.flags.models import Flag
from monitors import Observation, Outcome

START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


@dataclass
class Script:
    """What the scripted platform says of one account now."""

    outcome: Outcome = Outcome.OK
    last_post_at: datetime | None = START
    followers: int | None = 1000
    post_count: int | None = 50
    verified: bool | None = True


@dataclass
class Scripted:
    platform: str
    accounts: dict[str, Script] = field(default_factory=dict)

    def validate_handle(self, handle: str) -> str:
        return handle

    async def observe(self, handle: str, client: httpx.AsyncClient) -> Observation:
        s = self.accounts[handle]
        return Observation(
            platform=self.platform,
            handle=handle,
            outcome=s.outcome,
            observed_at=utcnow(),
            last_post_at=s.last_post_at,
            followers=s.followers,
            post_count=s.post_count,
            verified=s.verified,
        )


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as coordinates:
        yield coordinates


@dataclass
class World:
    database: Database
    runner: CheckRunner
    clock: time_machine.Coordinates
    platforms: dict[str, Scripted]

    async def add(
        self, handle: str, platform: str = "weibo", organization: str = "", **script: object
    ) -> int:
        self.platforms[platform].accounts[handle] = Script(**script)  # type: ignore[arg-type]
        async with self.database.write_session() as session:
            account = Account(
                platform=platform,
                handle=handle,
                name=handle,
                organization=organization,
                region_code="220102",
                created_at=utcnow(),
            )
            session.add(account)
            await session.flush()
            assert account.id is not None
            return account.id

    def script(self, handle: str, platform: str = "weibo") -> Script:
        return self.platforms[platform].accounts[handle]

    async def check(self, account_id: int) -> None:
        assert await run_check(self.runner, account_id) is not None

    async def at(self, when: timedelta, account_id: int) -> None:
        self.clock.move_to(START + when)
        await self.check(account_id)

    async def open_codes(self, account_id: int) -> set[str]:
        async with self.database.read_session() as session:
            return set(await service.open_flags(session, account_id))

    async def events(self, account_id: int) -> list[str]:
        async with self.database.read_session() as session:
            rows = await session.exec(
                select(OutboxEvent)
                .where(OutboxEvent.account_id == account_id)
                .order_by(col(OutboxEvent.id))
            )
            return [e.type for e in rows.all()]


@pytest.fixture
async def world(
    database: Database, settings: Settings, clock: time_machine.Coordinates
) -> AsyncIterator[World]:
    platforms = {p: Scripted(p) for p in ("weibo", "appstore", "website")}
    async with httpx.AsyncClient() as client:
        runner = CheckRunner(database=database, client=client, settings=settings)
        runner._monitors.update(platforms)  # type: ignore[arg-type]
        yield World(database, runner, clock, platforms)
        await runner.flush()


DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("code", "days", "policy"),
    [
        ("stale", 14, "national"),
        ("zombie", 90, "national"),
        ("zombie", 365, "beijing-2019"),
    ],
)
async def test_silence_flags_open_at_the_threshold_hold_and_resolve(
    world: World, settings: Settings, code: str, days: int, policy: str
) -> None:
    world.runner.settings = settings.model_copy(update={"policy": policy})
    a = await world.add("1000000001", last_post_at=START)
    await world.at((days - 1) * DAY, a)  # a day before the threshold
    assert code not in await world.open_codes(a)
    await world.at(days * DAY, a)  # the last post is exactly `days` old: still inside
    assert code not in await world.open_codes(a)
    await world.at(days * DAY + timedelta(hours=1), a)
    assert code in await world.open_codes(a)
    world.script("1000000001").outcome = Outcome.BLOCKED  # unknown: nothing moves
    for extra in range(2, 6):
        await world.at((days + extra) * DAY, a)
        assert code in await world.open_codes(a)
    world.script("1000000001").outcome = Outcome.OK
    world.script("1000000001").last_post_at = START + (days + 6) * DAY
    await world.at((days + 6) * DAY + timedelta(hours=1), a)
    assert code not in await world.open_codes(a)
    assert [e for e in await world.events(a) if e.startswith("flag.")].count("flag.opened") >= 1


async def test_empty_shell_and_unverified(world: World) -> None:
    a = await world.add(
        "1000000002",
        outcome=Outcome.EMPTY,
        last_post_at=None,
        post_count=0,
        followers=0,
        verified=False,
    )
    await world.at(timedelta(0), a)
    assert {"empty_shell", "unverified", "stale"} <= await world.open_codes(a)
    s = world.script("1000000002")
    s.outcome, s.last_post_at, s.post_count, s.followers, s.verified = (
        Outcome.OK,
        START + DAY,
        1,
        3,
        True,
    )
    await world.at(DAY + timedelta(hours=1), a)
    assert not {"empty_shell", "unverified", "stale"} & await world.open_codes(a)


async def test_unreachable_needs_confirmation_and_respects_degraded_platforms(world: World) -> None:
    a = await world.add("1000000003", outcome=Outcome.DELETED, last_post_at=None)
    await world.at(timedelta(0), a)
    await world.at(timedelta(minutes=59), a)
    assert "unreachable" not in await world.open_codes(a)
    async with world.database.write_session() as session:
        session.add(
            PlatformHealth(platform="weibo", degraded=True, reason="canary", changed_at=utcnow())
        )
    await world.at(timedelta(minutes=61), a)
    assert "unreachable" not in await world.open_codes(a)  # held while degraded
    async with world.database.write_session() as session:
        health = await session.get(PlatformHealth, "weibo")
        assert health is not None
        health.degraded = False
        session.add(health)
    world.script("1000000003").outcome = Outcome.RATE_LIMITED
    await world.at(timedelta(minutes=70), a)
    assert "unreachable" not in await world.open_codes(a)  # unknown decides nothing
    world.script("1000000003").outcome = Outcome.BANNED
    await world.at(timedelta(minutes=80), a)
    assert "unreachable" in await world.open_codes(a)
    world.script("1000000003").outcome = Outcome.OK
    world.script("1000000003").last_post_at = START
    await world.at(timedelta(hours=3), a)
    assert "unreachable" not in await world.open_codes(a)


async def test_a_gone_flag_waits_for_a_canary_verdict_after_the_first_gone_answer(
    world: World,
) -> None:
    """The canaries answered as expected at the start; the account then answers gone twice,
    an hour apart, before they answer again: the flag waits for that verdict."""
    async with world.database.write_session() as session:
        await checks_service.set_health(
            session, "weibo", degraded=False, reason="canaries answered", now=utcnow()
        )
    a = await world.add("1000000013", outcome=Outcome.DELETED, last_post_at=None)
    await world.at(timedelta(minutes=1), a)
    await world.at(timedelta(minutes=62), a)
    assert "unreachable" not in await world.open_codes(a)  # no verdict since the first answer
    world.clock.move_to(START + timedelta(minutes=63))
    async with world.database.write_session() as session:
        await checks_service.set_health(
            session, "weibo", degraded=False, reason="canaries answered", now=utcnow()
        )
    await world.at(timedelta(minutes=70), a)
    assert "unreachable" in await world.open_codes(a)


async def test_app_outdated_at_a_year(world: World) -> None:
    a = await world.add("444934666", platform="appstore", last_post_at=START, followers=None)
    await world.at(365 * DAY, a)
    assert "app_outdated" not in await world.open_codes(a)
    await world.at(366 * DAY, a)
    assert await world.open_codes(a) == {"app_outdated"}  # stale does not apply to apps


async def test_duplicate_within_one_organization(world: World) -> None:
    a = await world.add("1000000004", organization="长春市公安局")
    b = await world.add("1000000005", organization="长春市公安局")
    await world.at(timedelta(0), a)
    assert "duplicate" in await world.open_codes(a)
    async with world.database.write_session() as session:
        other = await session.get(Account, b)
        assert other is not None
        other.status = "archived"
        session.add(other)
    await world.at(timedelta(hours=1), a)
    assert "duplicate" not in await world.open_codes(a)


async def test_blind_after_three_days_of_unknown(world: World) -> None:
    a = await world.add("1000000006")
    await world.at(timedelta(0), a)
    world.script("1000000006").outcome = Outcome.BLOCKED
    for hours in range(6, 72, 6):
        await world.at(timedelta(hours=hours), a)
        assert "blind" not in await world.open_codes(a)
    await world.at(timedelta(hours=72), a)
    assert "blind" in await world.open_codes(a)
    world.script("1000000006").outcome = Outcome.OK
    await world.at(timedelta(hours=73), a)
    assert "blind" not in await world.open_codes(a)


async def test_a_silenced_flag_stays_silent_until_its_expiry(world: World) -> None:
    a = await world.add("1000000007", last_post_at=START)
    await world.at(15 * DAY, a)
    assert await world.events(a) == ["flag.opened"]
    async with world.database.write_session() as session:
        flag = (await session.exec(select(Flag).where(Flag.account_id == a))).one()
        account = await session.get(Account, a)
        assert account is not None
        await service.silence(
            session, flag, account, reason="整改中", until=START + 35 * DAY, by="test", now=utcnow()
        )
    script = world.script("1000000007")
    script.last_post_at = START + 16 * DAY  # posts: resolves, silently
    await world.at(16 * DAY + timedelta(hours=1), a)
    await world.at(31 * DAY, a)  # silent for 15 days again: reopens, silently
    assert "stale" in await world.open_codes(a)
    assert await world.events(a) == ["flag.opened"]
    script.last_post_at = START + 36 * DAY  # after the expiry events flow again
    await world.at(36 * DAY + timedelta(hours=1), a)
    assert await world.events(a) == ["flag.opened", "flag.resolved"]
