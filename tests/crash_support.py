"""Crash runs: real `liveness` processes SIGKILLed at random points while they check accounts.

Shared by tests/test_crash_recovery.py (a few kills) and bench/crash.py (many). One run:
register the simulator's accounts with due times spread over one interval, start the
processes (`liveness serve` on SQLite; `liveness scheduler` and two `liveness worker` on
PostgreSQL), then repeatedly wait a random pause, SIGKILL one of them, restart it at once and
wait (with a deadline) until every account whose lease was live at the kill has a check stored
after it. After the last kill every account must be checked again within one interval. Then
the processes stop with SIGTERM and the database is read back for tests/crash_invariants.py.

While it runs, a flipper thread moves some simulated accounts between a post yesterday and
none for 20 days, so stale and zombie flags open and resolve across the kills; a custom
policy confirms gone accounts within the run, so unreachable flags open too. Webhooks go to a
receiver on a real socket. Pauses and victims come from ``seed``; every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.accounts.models import Account
from app.checks.models import CheckResult
from app.db import Database, utcnow
from app.events import endpoints
from monitors import PLATFORMS
from monitors.simulator.population import Population, Scenario
from tests.events.receiver import Receiver, running_receiver
from tests.processes import Processes, free_port, wait_for
from tests.support import register_population, running_simulator

ROOT = Path(__file__).resolve().parents[1]

# A national policy whose gone confirmation fits in a run (two gone answers 7 s apart).
POLICY_TOML = """
[crash]
extends = "national"
description = "crash runs: national rules, gone confirmed within a minute"

[crash.flags.unreachable]
min_span_hours = 0.002
"""


@dataclass(frozen=True)
class CrashPlan:
    """What one crash run does. Intervals are seconds; ``backend`` is sqlite or postgresql."""

    backend: str
    database_url: str
    seed: int
    kills: int = 3
    accounts: int = 150
    interval_s: int = 20
    lease_s: int = 10
    jitter: float = 0.05
    latency_ms: float = 800  # so a kill finds checks in flight
    max_pause_s: float = 4.0
    # Startup of a restarted process, claim ticks, a check's own time and a loaded machine.
    slack_s: float = 12.0

    @property
    def recheck_bound_s(self) -> float:
        """Longest a stored account may wait for its next check, a kill included."""
        return self.interval_s * (1 + self.jitter) + self.lease_s + self.slack_s


@dataclass
class Kill:
    """One SIGKILL: whom, when, which accounts were leased then, and how recovery went."""

    victim: str
    at: datetime
    held: set[int]
    mark: int  # the newest check id when the victim was dead
    restarted_at: float = 0.0
    recovered_s: float | None = None


@dataclass
class CrashRun:
    """What happened during a run, for the invariants and the figures."""

    plan: CrashPlan
    started: datetime
    accounts: set[int]
    policy_path: Path
    kills: list[Kill] = field(default_factory=list)
    final_recheck_s: float = 0.0
    flips: int = 0
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    received: list[str] = field(default_factory=list)
    events_before_stop: set[str] = field(default_factory=set)


def sync_url(database_url: str) -> str:
    """The same database for a synchronous SQLAlchemy engine (the harness reads in threads)."""
    return database_url.replace("sqlite+aiosqlite://", "sqlite://")


def environment(plan: CrashPlan, simulator_url: str, policy: Path) -> dict[str, str]:
    """LIVENESS_* settings of every process: short cycles, short leases, fast webhooks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVENESS_")}
    env.update(
        PYTHONPATH=str(ROOT),
        LIVENESS_DATABASE_URL=plan.database_url,
        LIVENESS_SIMULATOR_URL=simulator_url,
        LIVENESS_POLICY=str(policy),
        LIVENESS_CHECK_INTERVAL_S=str(plan.interval_s),
        # Every outcome is re-checked one interval later, so two checks closer than that
        # are one due time checked twice.
        LIVENESS_GONE_CONFIRM_DELAY_S=str(plan.interval_s),
        LIVENESS_UNKNOWN_BACKOFF_S=str(plan.interval_s),
        LIVENESS_CHECK_JITTER=str(plan.jitter),
        LIVENESS_CLAIM_INTERVAL_S="0.5",
        LIVENESS_LEASE_S=str(plan.lease_s),
        LIVENESS_PLATFORM_RATES=json.dumps({p: 1000 for p in PLATFORMS}),
        LIVENESS_PORT=str(free_port()),
        LIVENESS_LOG_LEVEL="warning",
        LIVENESS_WEBHOOK_ALLOW_PRIVATE="true",
        LIVENESS_WEBHOOK_INTERVAL_S="0.5",
        LIVENESS_WEBHOOK_TIMEOUT_S="2",
        LIVENESS_WEBHOOK_LEASE_S="4",
    )
    if plan.backend == "postgresql":
        env["LIVENESS_EXECUTOR"] = "procrastinate"
    return env


async def _register(plan: CrashPlan, population: Population, sim_url: str, hook: str) -> set[int]:
    database = Database(plan.database_url)
    try:
        ids = set(await register_population(database, population, sim_url))
        async with database.write_session() as session:
            endpoints.create_endpoint(
                session,
                url=hook,
                description="crash run",
                event_types=None,
                region_prefix=None,
                enabled=True,
                by="test",
                now=utcnow(),
            )
        return ids
    finally:
        await database.dispose()


def spread_due_times(engine: Engine, start: datetime, interval_s: int, rng: random.Random) -> None:
    """Make each account first due at a random point of the first interval, so checks run
    all the time and every kill lands among them."""
    with Session(engine) as session:
        for account in session.exec(select(Account)).all():
            account.next_check_at = start + timedelta(seconds=rng.uniform(0, interval_s))
            session.add(account)
        session.commit()


def _leased(engine: Engine, at: datetime) -> set[int]:
    with Session(engine) as session:
        query = select(col(Account.id)).where(col(Account.lease_until) > at)
        return {i for i in session.exec(query).all() if i is not None}


def _newest_check_id(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.coalesce(func.max(col(CheckResult.id)), 0))).one())


def _checked_after(engine: Engine, check_id: int) -> set[int]:
    with Session(engine) as session:
        query = select(col(CheckResult.account_id)).where(col(CheckResult.id) > check_id)
        return set(session.exec(query.distinct()).all())


def _event_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(text("SELECT event_id FROM outbox_event"))}


class _Flipper(threading.Thread):
    """Moves alive and stale simulated accounts between 1 and 20 days since the last post."""

    def __init__(self, population: Population, rng: random.Random) -> None:
        super().__init__(daemon=True, name="flipper")
        chosen = (Scenario.ALIVE, Scenario.STALE, Scenario.SILENT)
        self.accounts = [a for a in population.accounts if a.scenario in chosen]
        self.rng = rng
        self.stop = threading.Event()
        self.flips = 0

    def run(self) -> None:
        while not self.stop.wait(1.0):
            for account in self.rng.sample(self.accounts, k=len(self.accounts) // 4):
                account.last_post_days = 20.0 if account.last_post_days == 1.0 else 1.0
                self.flips += 1


def _start(plan: CrashPlan, procs: Processes) -> list[str]:
    """Start the processes; returns the names that may be killed."""
    if plan.backend == "sqlite":
        procs.start("serve", "serve")
        return ["serve"]
    procs.start("worker-a", "worker", "--concurrency", "20")
    procs.start("worker-b", "worker", "--concurrency", "20")
    procs.start("scheduler", "scheduler")
    return ["scheduler", "worker-a", "worker-b"]


def _victims(plan: CrashPlan, names: list[str], rng: random.Random) -> list[str]:
    """Who dies at each kill: on PostgreSQL the scheduler and a worker at least once each."""
    if len(names) == 1:
        return names * plan.kills
    first = ["scheduler", rng.choice(names[1:])]
    rng.shuffle(first)
    return (first + [rng.choice(names) for _ in range(plan.kills)])[: plan.kills]


@contextmanager
def crash_run(plan: CrashPlan, workdir: Path) -> Iterator[CrashRun]:
    """Run ``plan`` in ``workdir`` (logs, policy); yields the record once every process has
    stopped. Raises AssertionError when a deadline passes."""
    rng = random.Random(plan.seed)
    policy = workdir / "crash-policy.toml"
    policy.write_text(POLICY_TOML, encoding="utf-8")
    engine = create_engine(sync_url(plan.database_url))
    try:
        with (
            running_simulator(plan.accounts, plan.seed, latency_ms=plan.latency_ms) as (url, sim),
            running_receiver() as receiver,
        ):
            population = sim.state.population
            accounts = asyncio.run(_register(plan, population, url, receiver.url))
            started = utcnow() + timedelta(seconds=2)
            spread_due_times(engine, started, plan.interval_s, rng)
            run = CrashRun(plan, started, accounts, policy)
            flipper = _Flipper(population, random.Random(plan.seed + 1))
            procs = Processes(environment(plan, url, policy), workdir)
            flipper.start()
            try:
                names = _start(plan, procs)
                _kill_rounds(plan, run, procs, engine, _victims(plan, names, rng), rng)
                _deliveries_caught_up(run, engine, receiver, workdir)
            finally:
                flipper.stop.set()
                run.exit_codes = procs.stop_all()
                flipper.join(timeout=5)
                run.flips = flipper.flips
                run.received = receiver.ids()
        yield run
    finally:
        engine.dispose()


def _kill_rounds(
    plan: CrashPlan,
    run: CrashRun,
    procs: Processes,
    engine: Engine,
    victims: list[str],
    rng: random.Random,
) -> None:
    logs = procs.logs
    wait_for("the first checks", lambda: _newest_check_id(engine) > 0, 30, logs)
    for victim in victims:
        time.sleep(rng.uniform(0.2, plan.max_pause_s))
        procs.kill(victim)
        at = utcnow()
        kill = Kill(victim, at, _leased(engine, at), _newest_check_id(engine))
        procs.restart(victim)
        kill.restarted_at = time.monotonic()
        run.kills.append(kill)
        kill.recovered_s = wait_for(
            f"the {len(kill.held)} accounts leased at the {victim} kill to be checked again",
            _recovered(engine, kill),
            plan.lease_s + plan.slack_s + 10,
            logs,
        )
    # Every account is checked again within one interval of the last kill.
    last = run.kills[-1]
    remaining = plan.recheck_bound_s - (time.monotonic() - last.restarted_at)
    wait_for(
        "every account to be checked again after the last kill",
        lambda: _checked_after(engine, last.mark) >= run.accounts,
        max(remaining, 1.0),
        logs,
    )
    run.final_recheck_s = time.monotonic() - last.restarted_at


def _recovered(engine: Engine, kill: Kill) -> Callable[[], bool]:
    return lambda: kill.held <= _checked_after(engine, kill.mark)


def _deliveries_caught_up(run: CrashRun, engine: Engine, receiver: Receiver, logs: Path) -> None:
    run.events_before_stop = _event_ids(engine)
    wait_for(
        "every event so far to reach the webhook receiver",
        lambda: run.events_before_stop <= set(receiver.ids()),
        30,
        logs,
    )
