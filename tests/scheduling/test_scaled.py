"""Scaled mode for real: one `liveness scheduler` and two `liveness worker` processes on a
fresh PostgreSQL database against the simulator on a real socket.

Every account is checked once in the first cycle and none twice; then one worker is killed
with SIGKILL while it holds checks of the second cycle, and every account it held is checked
again (by the other worker) once its lease expires, with nothing lost and nothing doubled.
Real waiting is bounded by deadlines; every process is killed and the database dropped.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from app.db import Database
from monitors import PLATFORMS
from tests.conftest import pg_url
from tests.support import register_population, running_simulator

pytestmark = pytest.mark.pg

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = 200
INTERVAL_S = 30
LEASE_S = 15
LATENCY_MS = 800
# Two checks of one account for one due time would be at most a lease and a check apart;
# two honest checks are an interval (less 5 % jitter) apart.
DOUBLE_GAP = timedelta(seconds=INTERVAL_S * 0.75)
# Worker a is killed once it holds this many second-cycle checks (mid-cycle, not at its edge).
HELD_AT_LEAST = 5


def _sql(dbname: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_url(dbname, driver="postgresql"), autocommit=True) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def _wait_for(what: str, condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.05)


def _checks(dbname: str) -> dict[int, list[datetime]]:
    rows = _sql(dbname, "SELECT account_id, checked_at FROM check_result ORDER BY checked_at")
    by_account: dict[int, list[datetime]] = defaultdict(list)
    for account_id, checked_at in rows:
        by_account[account_id].append(checked_at)
    return by_account


class Processes:
    """The scheduler and workers, started as `liveness` subprocesses; all killed at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", *args],
                env=self.env,
                cwd=self.logs,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


def _environment(dbname: str, simulator_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVENESS_")}
    env.update(
        PYTHONPATH=str(ROOT),
        LIVENESS_DATABASE_URL=pg_url(dbname),
        LIVENESS_EXECUTOR="procrastinate",
        LIVENESS_SIMULATOR_URL=simulator_url,
        LIVENESS_CHECK_INTERVAL_S=str(INTERVAL_S),
        # Every outcome comes back after one interval, so cycles are easy to tell apart.
        LIVENESS_GONE_CONFIRM_DELAY_S=str(INTERVAL_S),
        LIVENESS_UNKNOWN_BACKOFF_S=str(INTERVAL_S),
        LIVENESS_CLAIM_INTERVAL_S="0.5",
        LIVENESS_LEASE_S=str(LEASE_S),
        LIVENESS_PLATFORM_RATES=json.dumps({p: 1000 for p in PLATFORMS}),
        LIVENESS_LOG_LEVEL="warning",
    )
    return env


def _workers(dbname: str) -> list[int]:
    """procrastinate's registered workers, oldest first."""
    return [row[0] for row in _sql(dbname, "SELECT id FROM procrastinate_workers ORDER BY id")]


def _held_by(dbname: str, worker_id: int) -> list[tuple[int, datetime]]:
    """Accounts whose current lease belongs to a job the worker is running: (id, lease end)."""
    return [
        (row[0], row[1])
        for row in _sql(
            dbname,
            "SELECT a.id, a.lease_until FROM procrastinate_jobs j "
            "JOIN account a ON a.id = (j.args->>'account_id')::int "
            "WHERE j.status = 'doing' AND j.worker_id = %s "
            "AND a.lease_token = j.args->>'lease_token'",
            worker_id,
        )
    ]


def test_one_scheduler_two_workers_survive_a_killed_worker(
    pg_database: str, tmp_path: Path
) -> None:
    dbname = pg_database
    with running_simulator(ACCOUNTS, 7, latency_ms=LATENCY_MS) as (url, simulator):
        database = Database(pg_url(dbname))

        async def register() -> dict[int, object]:
            try:
                return await register_population(database, simulator.state.population, url)
            finally:
                await database.dispose()

        accounts = set(asyncio.run(register()))
        assert len(accounts) == ACCOUNTS
        procs = Processes(_environment(dbname, url), tmp_path)
        try:
            victim = procs.start("worker-a", "worker", "--concurrency", "30")
            _wait_for("worker a", lambda: len(_workers(dbname)) == 1, 30)
            victim_id = _workers(dbname)[0]
            survivor = procs.start("worker-b", "worker", "--concurrency", "30")
            _wait_for("worker b", lambda: len(_workers(dbname)) == 2, 30)
            started = datetime.now(UTC)
            scheduler = procs.start("scheduler", "scheduler")

            # Cycle 1: every account is due at once.
            _wait_for("every account checked once", lambda: set(_checks(dbname)) == accounts, 60)
            first = _checks(dbname)
            cycle1_s = (max(max(v) for v in first.values()) - started).total_seconds()
            assert all(len(v) == 1 for v in first.values()), "an account was checked twice"
            _wait_for(
                "finished jobs deleted",
                lambda: _sql(dbname, "SELECT count(*) FROM procrastinate_jobs")[0][0] == 0,
                10,
            )

            # Cycle 2: stop worker a while it holds leases, note them, then kill it.
            held: list[tuple[int, datetime]] = []
            deadline = time.monotonic() + 3 * INTERVAL_S
            while len(held) < HELD_AT_LEAST:
                assert time.monotonic() < deadline, "worker a never held enough checks"
                if len(_held_by(dbname, victim_id)) >= HELD_AT_LEAST:
                    victim.send_signal(signal.SIGSTOP)
                    held = _held_by(dbname, victim_id)
                    if len(held) < HELD_AT_LEAST:
                        victim.send_signal(signal.SIGCONT)
                time.sleep(0.02)
            victim.kill()
            victim.wait(timeout=10)
            killed_at = datetime.now(UTC)
            held_ids = {account_id for account_id, _ in held}

            def recovered() -> bool:
                checks = _checks(dbname)
                return all(any(t > killed_at for t in checks.get(a, [])) for a in held_ids) and all(
                    len(checks.get(a, [])) >= 2 for a in accounts
                )

            _wait_for("held accounts checked again", recovered, LEASE_S + 30)
            recovered_at = datetime.now(UTC)
        finally:
            procs.stop_all()
        checks = _checks(dbname)

    # SIGTERM stops both cleanly.
    assert scheduler.returncode == 0, procs.log("scheduler")
    assert survivor.returncode == 0, procs.log("worker-b")
    assert "checks.weibo" in procs.log("worker-b")
    lease_ends = dict(held)
    for account_id in held_ids:
        again = [t for t in checks[account_id] if t > killed_at]
        assert again and again[0] >= lease_ends[account_id], (account_id, again, lease_ends)
    for account_id in accounts:
        times = checks[account_id]
        assert sum(1 for t in times if t < started + DOUBLE_GAP) == 1, (account_id, times)
        assert len(times) >= 2, f"account {account_id} lost its second-cycle check"
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(g >= DOUBLE_GAP for g in gaps), f"account {account_id} checked twice: {times}"
    print(
        f"\n{ACCOUNTS} accounts, 2 workers x 30, {LATENCY_MS} ms latency: cycle 1 took "
        f"{cycle1_s:.1f} s; worker killed holding {len(held_ids)} checks, all re-checked "
        f"{(recovered_at - killed_at).total_seconds():.1f} s later"
    )
