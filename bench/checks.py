"""Bench: end-to-end checks per second and peak memory of the check pipeline (issue 4).

Throughput: the simulator runs in its own process (`liveness simulator`); its /population is
registered as accounts in a fresh database (a SQLite file, or a PostgreSQL database created and
dropped here); then the real Scheduler + InlineExecutor + run_check run in this process, the
scheduler ticking every --claim-interval seconds, and the check rows stored during a steady
window (after a warm-up) are counted. With a 10 s interval every account is due again soon
after it is checked, so the executor never runs out of work.

Memory: --memory registers 100,000 accounts in a SQLite file and runs `liveness serve` (the
service with its scheduler) against the simulator until every account has been checked once,
then reads the serve process's peak RSS (VmHWM).

    .venv/bin/python bench/checks.py                               # both backends, 0 and 100 ms
    .venv/bin/python bench/checks.py --backend sqlite --latency-ms 0 --seconds 20
    .venv/bin/python bench/checks.py --memory --population 100000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform as host_platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvloop
from sqlalchemy import func
from sqlmodel import col, select

from app.accounts import service as accounts_service
from app.auth.schemas import Role
from app.auth.service import Principal
from app.checks.models import CheckResult
from app.checks.pipeline import CheckRunner, make_http_client
from app.config import Settings
from app.db import Database
from app.egress import EgressGuard
from app.migrations import upgrade
from app.runtime import startup_objects_frozen
from app.scheduling.inline import InlineExecutor
from app.scheduling.scheduler import Scheduler

ROOT = Path(__file__).resolve().parent.parent
LIVENESS = str(ROOT / ".venv" / "bin" / "liveness")
PRINCIPAL = Principal(key_id=None, name="bench", role=Role.ADMIN, region_prefix=None)
PLATFORMS = ("appstore", "douyin", "huawei", "rss", "website", "wechat", "weibo", "xiaomi", "yyb")
PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


@contextmanager
def simulator(latency_ms: float, population: int) -> Iterator[str]:
    """The simulator in its own process, as an operator would start it."""
    port = free_port()
    command = [
        LIVENESS,
        "simulator",
        "--port",
        str(port),
        "--latency-ms",
        str(latency_ms),
        "--population",
        str(population),
        "--seed",
        "1",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", seconds=120)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # requests still hanging (bench/soak.py's timeouts)
            process.kill()
            process.wait(timeout=10)


@contextmanager
def database_url(backend: str) -> Iterator[str]:
    """A freshly migrated database, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            upgrade(url)
            yield url
        return
    name = f"liveness_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(**PG_ADMIN, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(**PG_ADMIN, autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def fetch_population(simulator_url: str) -> list[dict[str, Any]]:
    """The simulator's scripted accounts, with their scenario and expected outcome."""
    async with httpx.AsyncClient(timeout=120) as client:
        accounts: list[dict[str, Any]] = (await client.get(f"{simulator_url}/population")).json()
    return accounts


async def register(database: Database, simulator_url: str, organizations: int = 300) -> int:
    """Register the simulator's whole population as accounts, as an import would, spread over
    ``organizations`` organizations (0: one per account, so no 重复开设 flags)."""
    accounts = await fetch_population(simulator_url)
    guard = EgressGuard.trusting([simulator_url])
    rows = [
        {
            "platform": account["platform"],
            "handle": account["handle"],
            "name": account["display_name"] or f"account {n}",
            "organization": f"单位{n % organizations if organizations else n}",
            "region_code": "220102",
            "category": "bench",
        }
        for n, account in enumerate(accounts)
    ]
    for start in range(0, len(rows), 5000):
        async with database.write_session() as session:
            outcomes = await accounts_service.upsert_accounts(
                session, rows[start : start + 5000], PRINCIPAL, egress=guard
            )
        bad = [o for o in outcomes if o.status == "error"]
        if bad:
            raise RuntimeError(f"{len(bad)} population rows were refused: {bad[0]}")
    return len(rows)


def bench_settings(url: str, simulator_url: str, args: argparse.Namespace) -> Settings:
    """The service's settings with the bench's limits: per-platform caps and rates raised so
    the global concurrency limit is the one that binds."""
    return Settings(
        database_url=url,
        simulator_url=simulator_url,
        max_concurrency=args.concurrency,
        platform_concurrency={p: args.concurrency for p in PLATFORMS},
        platform_rates={p: 100_000.0 for p in PLATFORMS},
        http_max_connections=args.concurrency * 2,
        claim_batch=args.claim_batch,
        claim_interval_s=args.claim_interval,
        check_interval_s=10,
        check_jitter=0.05,
        unknown_backoff_s=10,
        gone_confirm_delay_s=10,
        canaries={},
    )


async def count_checks(database: Database) -> int:
    async with database.read_session() as session:
        return (await session.exec(select(func.count(col(CheckResult.id))))).one()


@dataclass
class Result:
    backend: str
    latency_ms: float
    concurrency: int
    accounts: int
    window_s: float
    checks: int
    outcomes: dict[str, int]
    requests_per_check: float

    @property
    def rate(self) -> float:
        return self.checks / self.window_s


async def throughput(backend: str, latency_ms: float, args: argparse.Namespace) -> Result:
    with simulator(latency_ms, args.population) as sim_url, database_url(backend) as url:
        settings = bench_settings(url, sim_url, args)
        database = Database(url)
        accounts = await register(database, sim_url)
        client = make_http_client(settings)
        requests = 0

        async def on_request(_request: httpx.Request) -> None:
            nonlocal requests
            requests += 1

        client.event_hooks["request"].append(on_request)
        runner = CheckRunner(database=database, client=client, settings=settings)
        executor = InlineExecutor(runner)
        scheduler = Scheduler(runner, executor, name="bench")
        # As in liveness serve (app/runtime.py): start-up objects stay out of collections.
        with startup_objects_frozen():
            started = time.monotonic()
            window_start = started + args.warmup
            window_end = window_start + args.seconds
            first = last = None
            requests_at = completed_at = ticks = 0
            tick_s = 0.0
            while True:
                now = time.monotonic()
                if first is None and now >= window_start:
                    stored = await count_checks(database)
                    if args.steady and stored < accounts:  # still in the first cycle
                        window_start = now + 1.0
                        window_end = window_start + args.seconds
                    else:
                        first, window_start = stored, time.monotonic()
                        window_end = window_start + args.seconds
                        requests_at, completed_at = requests, executor.completed
                if now >= window_end:
                    last, window_end = await count_checks(database), time.monotonic()
                    break
                tick_started = time.perf_counter()
                await scheduler.tick()
                ticks += 1
                tick_s += time.perf_counter() - tick_started
                await asyncio.sleep(args.claim_interval)
        print(f"  {ticks} ticks, {1000 * tick_s / max(ticks, 1):.1f} ms each on average")
        done = executor.completed - completed_at
        per_check = (requests - requests_at) / done if done else 0.0
        await executor.close()
        await client.aclose()
        async with database.read_session() as session:
            query = select(col(CheckResult.outcome), func.count()).group_by(
                col(CheckResult.outcome)
            )
            outcomes = dict((await session.exec(query)).all())
        await database.dispose()
        assert first is not None and last is not None
        return Result(
            backend,
            latency_ms,
            args.concurrency,
            accounts,
            window_end - window_start,
            last - first,
            outcomes,
            per_check,
        )


def report(result: Result) -> str:
    line = (
        f"{result.backend:<10} latency {result.latency_ms:>5.0f} ms  concurrency "
        f"{result.concurrency:>4}  accounts {result.accounts}  {result.checks} checks in "
        f"{result.window_s:.1f} s = {result.rate:,.0f} checks/s"
        f"  ({result.requests_per_check:.2f} requests/check)"
    )
    if result.latency_ms > 0:
        naive = result.concurrency / (result.latency_ms / 1000)
        per_request = naive / max(result.requests_per_check, 1.0)
        line += (
            f"\n{'':<10} bound: {naive:,.0f}/s at one request per check "
            f"({100 * result.rate / naive:.0f}%), {per_request:,.0f}/s at "
            f"{result.requests_per_check:.2f} sequential requests per check "
            f"({100 * result.rate / per_request:.0f}%)"
        )
    errors = result.outcomes.get("error", 0)
    total = sum(result.outcomes.values())
    line += f"\n{'':<10} outcomes over the run: {total} rows, {errors} error"
    return line


def rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def memory(args: argparse.Namespace) -> None:
    """Peak RSS of `liveness serve` while its scheduler checks every one of N accounts."""
    with simulator(0, args.population) as sim_url, database_url("sqlite") as url:
        database = Database(url)
        t0 = time.monotonic()
        accounts = await register(database, sim_url)
        print(f"registered {accounts} accounts in {time.monotonic() - t0:.1f} s")
        port = free_port()
        env = os.environ | {
            "LIVENESS_DATABASE_URL": url,
            "LIVENESS_SIMULATOR_URL": sim_url,
            "LIVENESS_MAX_CONCURRENCY": str(args.concurrency),
            "LIVENESS_PLATFORM_CONCURRENCY": "{"
            + ",".join(f'"{p}": {args.concurrency}' for p in PLATFORMS)
            + "}",
            "LIVENESS_PLATFORM_RATES": "{" + ",".join(f'"{p}": 100000' for p in PLATFORMS) + "}",
            "LIVENESS_HTTP_MAX_CONNECTIONS": str(args.concurrency * 2),
            "LIVENESS_CLAIM_INTERVAL_S": str(args.claim_interval),
            "LIVENESS_CLAIM_BATCH": str(args.claim_batch),
            "LIVENESS_LOG_LEVEL": "warning",
        }
        command = [LIVENESS, "serve", "--port", str(port)]
        # Started once, before anything is timed.
        process = subprocess.Popen(command, env=env, cwd=tempfile.gettempdir())  # noqa: ASYNC220
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            start_mb = rss_kb(process.pid, "VmRSS") / 1024
            print(f"serve pid {process.pid}: RSS at start {start_mb:.0f} MB")
            t0 = time.monotonic()
            deadline = t0 + args.timeout
            checked = 0
            while time.monotonic() < deadline:
                await asyncio.sleep(5)
                async with database.read_session() as session:
                    distinct = func.count(func.distinct(col(CheckResult.account_id)))
                    checked = (await session.exec(select(distinct))).one()
                print(
                    f"  {time.monotonic() - t0:6.0f} s: {checked} accounts checked, "
                    f"RSS {rss_kb(process.pid, 'VmRSS') / 1024:.0f} MB"
                )
                if checked >= accounts:
                    break
            peak = rss_kb(process.pid, "VmHWM") / 1024
            elapsed = time.monotonic() - t0
            print(
                f"memory: {accounts} accounts registered, {checked} checked in {elapsed:.0f} s "
                f"({checked / elapsed:,.0f}/s); peak RSS of liveness serve {peak:.0f} MB"
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
            await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--latency-ms", type=float, action="append", help="default: 0 and 100")
    parser.add_argument("--population", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=100, help="max_concurrency")
    parser.add_argument("--claim-batch", type=int, default=500)
    parser.add_argument("--claim-interval", type=float, default=0.05, help="seconds per tick")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window")
    parser.add_argument(
        "--steady",
        action="store_true",
        help="warm up until every account has been checked once: measure later cycles, not "
        "the first (where every check is an account's first and opens its flags)",
    )
    parser.add_argument(
        "--loop", choices=["uvloop", "asyncio"], default="uvloop", help="uvloop: as liveness serve"
    )
    parser.add_argument("--memory", action="store_true", help="peak RSS of liveness serve")
    parser.add_argument("--timeout", type=float, default=900, help="memory run: give up after")
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} cores, Python {host_platform.python_version()}, "
        f"{sys.platform}, event loop {args.loop}"
    )
    factory = uvloop.new_event_loop if args.loop == "uvloop" else asyncio.new_event_loop
    if args.memory:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(memory(args))
        return
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for latency in args.latency_ms or [0.0, 100.0]:
        for backend in backends:
            with asyncio.Runner(loop_factory=factory) as runner:
                result = runner.run(throughput(backend, latency, args))
            print(report(result), flush=True)


if __name__ == "__main__":
    main()
