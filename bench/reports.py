"""Bench: the flags and reports routes on SQLite with 100,000 accounts and 1,000,000 checks.

Run: .venv/bin/python bench/reports.py [--accounts 100000] [--checks-per-account 10]
                                         [--requests 60] [--keep /tmp/reports.db]

``build_database`` (reusable) fills a freshly migrated SQLite file with plain sqlite3
executemany: a registry spread over 100 counties, 40 departments and every platform; ten
check rows per account over the last 30 days; 30,000 open and 50,000 resolved flags. Then
each route is timed through the ASGI app (httpx.ASGITransport), after a warm-up request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

import monitors
from app.auth import service as auth_service
from app.auth.schemas import Role
from app.config import Settings
from app.db import Database
from app.flags.policy import FLAG_BITS
from app.main import create_app
from app.migrations import upgrade
from app.reports import checkpoints
from app.reports.models import report_checkpoint_time

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
DEPARTMENTS = [f"部门{n:02d}" for n in range(40)]
CODES_VETO = {"stale": True, "unreachable": True}
FLAG_CODES = ["stale", "zombie", "empty_shell", "unreachable", "unverified", "app_outdated"]
GONE_OUTCOMES = ("deleted", "banned", "not_found")


_MIRROR_SQL = (
    "UPDATE account SET open_flags = COALESCE((SELECT SUM(CASE flag.code "  # noqa: S608
    + " ".join(f"WHEN '{code}' THEN {bit}" for code, bit in FLAG_BITS.items())
    + " ELSE 0 END) FROM flag WHERE flag.account_id = account.id AND flag.state = 'open'), 0),"
    " veto_open = EXISTS (SELECT 1 FROM flag WHERE flag.account_id = account.id"
    " AND flag.state = 'open' AND flag.veto)"
)


@dataclass(frozen=True)
class BenchData:
    """What ``build_database`` wrote."""

    path: Path
    accounts: int
    checks: int
    open_flags: int
    resolved_flags: int
    now: datetime


def _ts(value: datetime) -> str:
    # The text form SQLAlchemy's SQLite DateTime stores (UTC, naive, microseconds).
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _regions() -> list[tuple[str, str]]:
    return [
        (f"22{c:02d}{d:02d}", f"吉林{c:02d}市{d:02d}区") for c in range(1, 11) for d in range(1, 11)
    ]


def _account_rows(count: int, rng: random.Random, now: datetime) -> Iterator[tuple[object, ...]]:
    regions = _regions()
    for n in range(count):
        code, region_name = regions[n % len(regions)]
        department = DEPARTMENTS[rng.randrange(len(DEPARTMENTS))]
        created = now - timedelta(days=rng.uniform(30, 730))
        checked = rng.random() < 0.95
        first = _ts(created + timedelta(hours=1)) if checked else None
        last = _ts(now - timedelta(hours=rng.uniform(0, 24))) if checked else None
        yield (
            monitors.PLATFORMS[n % len(monitors.PLATFORMS)],
            f"bench{n}",
            f"账号{n}",
            f"{region_name}{department}",
            code,
            region_name,
            department,
            "county",
            "政务发布",
            "active" if rng.random() < 0.97 else "archived",
            "",
            _ts(created),
            _ts(created),
            first,
            last,
            "ok" if checked else None,
            _ts(now - timedelta(days=rng.uniform(0, 60))) if checked else None,
            0,
        )


def _check_rows(
    accounts: int, per_account: int, rng: random.Random, now: datetime
) -> Iterator[tuple[object, ...]]:
    platforms = monitors.PLATFORMS
    for n in range(accounts):
        for _ in range(per_account):
            gone = rng.random() < 0.03
            outcome = GONE_OUTCOMES[rng.randrange(3)] if gone else "ok"
            yield (
                n + 1,
                platforms[n % len(platforms)],
                _ts(now - timedelta(seconds=rng.uniform(0, 30 * 86400))),
                outcome,
                "gone" if gone else "alive",
                200,
                '{"url": "https://example.gov.cn/", "marker": null}',
            )


def _flag_rows(
    accounts: int, open_count: int, resolved_count: int, rng: random.Random, now: datetime
) -> Iterator[tuple[object, ...]]:
    platforms = monitors.PLATFORMS
    pairs = rng.sample(range(accounts * len(FLAG_CODES)), open_count)
    for pair in pairs:
        n, code = divmod(pair, len(FLAG_CODES))
        opened = now - timedelta(days=rng.uniform(0, 90))
        evidence = json.dumps({"last_post_at": _ts(opened - timedelta(days=14)), "check_id": n})
        yield (
            n + 1,
            platforms[n % len(platforms)],
            FLAG_CODES[code],
            "open",
            CODES_VETO.get(FLAG_CODES[code], False),
            "days=14",
            "国办秘函〔2019〕19号",
            _ts(opened),
            None,
            evidence,
        )
    for _ in range(resolved_count):
        n = rng.randrange(accounts)
        code = FLAG_CODES[rng.randrange(len(FLAG_CODES))]
        opened = now - timedelta(days=rng.uniform(30, 365))
        resolved = opened + timedelta(days=rng.uniform(1, 29))
        yield (
            n + 1,
            platforms[n % len(platforms)],
            code,
            "resolved",
            CODES_VETO.get(code, False),
            "days=14",
            "国办秘函〔2019〕19号",
            _ts(opened),
            _ts(resolved),
            "{}",
        )


def build_database(
    path: Path,
    *,
    accounts: int = 100_000,
    checks_per_account: int = 10,
    open_flags: int = 30_000,
    resolved_flags: int = 50_000,
    seed: int = 7,
    now: datetime = NOW,
) -> BenchData:
    """Migrate ``path`` and fill it with a registry, its check history and its flags."""
    upgrade(f"sqlite+aiosqlite:///{path}")
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        with conn:
            conn.executemany(
                "INSERT INTO account (platform, handle, name, organization, region_code,"
                " region_name, department, level, category, status, tags, created_at,"
                " updated_at, first_checked_at, last_checked_at, last_outcome, last_post_at,"
                " unknown_streak) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                _account_rows(accounts, rng, now),
            )
        with conn:
            conn.executemany(
                "INSERT INTO check_result (account_id, platform, checked_at, outcome,"
                " outcome_class, http_status, evidence) VALUES (?,?,?,?,?,?,?)",
                _check_rows(accounts, checks_per_account, rng, now),
            )
        with conn:
            conn.executemany(
                "INSERT INTO flag (account_id, platform, code, state, veto, rule, source,"
                " opened_at, resolved_at, evidence, resolution) VALUES (?,?,?,?,?,?,?,?,?,?,'{}')",
                _flag_rows(accounts, open_flags, resolved_flags, rng, now),
            )
        with conn:
            # The open-flag mirror, as the flag lifecycle keeps it (app/flags/service.py).
            conn.execute(_MIRROR_SQL)
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return BenchData(path, accounts, accounts * checks_per_account, open_flags, resolved_flags, now)


async def take_checkpoints(data: BenchData, days: int = 130) -> int:
    """Take the summary checkpoints due at the data's now over its last ``days`` days (as the
    scheduler's hourly job would have) that the file lacks; returns how many."""
    database = Database(f"sqlite+aiosqlite:///{data.path}")
    taken = 0
    try:
        async with database.read_session() as session:
            connection = await session.connection()
            found = await connection.execute(sa.select(report_checkpoint_time.c.taken_at))
            existing = set(found.scalars())
        for at in checkpoints.due_times(data.now):
            if data.now - at <= timedelta(days=days) and at not in existing:
                async with database.write_session() as session:
                    await checkpoints.take(session, at)
                taken += 1
    finally:
        await database.dispose()
    return taken


async def _viewer_key(url: str) -> str:
    database = Database(url)
    try:
        async with database.write_session() as session:
            _row, plain = await auth_service.create_key(session, name="bench", role=Role.VIEWER)
    finally:
        await database.dispose()
    return plain


async def time_routes(data: BenchData, requests: int) -> dict[str, list[float]]:
    """Milliseconds per request for each route, through the ASGI app."""
    url = f"sqlite+aiosqlite:///{data.path}"
    key = await _viewer_key(url)
    settings = Settings(_env_file=None, database_url=url, scheduler_enabled=False)
    app = create_app(settings)
    at = data.now.isoformat()
    # Without `at`: as of now, from the accounts' open-flag mirror (what a dashboard asks).
    routes = {
        f"summary?group_by={g}": ("/api/v1/reports/summary", {"group_by": g})
        for g in ("region", "organization", "department", "platform")
    }
    # With `at`: from flag history (a past 监测时间点).
    routes["summary?group_by=organization (at = data's now)"] = (
        "/api/v1/reports/summary",
        {"group_by": "organization", "at": at},
    )
    for days in (1, 7, 12, 30, 60, 123):
        # ~330 flags open a day in this data. Checkpoints at midnight in China, daily for
        # 120 days, then on Mondays: 1 to 60 days back (at noon in China) fall 12 hours from
        # one, ~170 accounts changed in between; 123 days back (a Wednesday noon) 2.5 days
        # from the nearest Monday's. Without checkpoints, flag history: ~26,000 flags open
        # 12 days back, what every past time would cost in a registry whose open flags stay
        # about as many as they are now.
        routes[f"summary?group_by=organization (at = {days} d before)"] = (
            "/api/v1/reports/summary",
            {"group_by": "organization", "at": (data.now - timedelta(days=days)).isoformat()},
        )
    routes["summary?group_by=region (at = data's now)"] = (
        "/api/v1/reports/summary",
        {"group_by": "region", "at": at},
    )
    routes["summary?group_by=region (at = 60 days ago)"] = (
        "/api/v1/reports/summary",
        {"group_by": "region", "at": (data.now - timedelta(days=60)).isoformat()},
    )
    routes["problems?limit=100"] = ("/api/v1/reports/problems", {"limit": "100", "at": at})
    routes["flags?state=open"] = ("/api/v1/flags", {"state": "open"})
    timings: dict[str, list[float]] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=headers
        ) as client:
            for name, (path, params) in routes.items():
                (await client.get(path, params=params)).raise_for_status()  # warm-up
                samples = []
                for _ in range(requests):
                    started = time.perf_counter()
                    response = await client.get(path, params=params)
                    samples.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                timings[name] = samples
    return timings


def _cpu() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    model = [line.split(":", 1)[1].strip() for line in out.splitlines() if "Model name" in line]
    return model[0] if model else platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--checks-per-account", type=int, default=10)
    parser.add_argument("--open-flags", type=int, default=30_000)
    parser.add_argument("--resolved-flags", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the database at this path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "reports.db"
        started = time.perf_counter()
        if args.keep and path.exists():
            upgrade(f"sqlite+aiosqlite:///{path}")  # a file kept from an older schema
            data = BenchData(path, args.accounts, 0, args.open_flags, args.resolved_flags, NOW)
            print(f"reusing {path}")
        else:
            data = build_database(
                path,
                accounts=args.accounts,
                checks_per_account=args.checks_per_account,
                open_flags=args.open_flags,
                resolved_flags=args.resolved_flags,
            )
            print(f"built {path} in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        taken = asyncio.run(take_checkpoints(data))
        print(f"took {taken} summary checkpoints in {time.perf_counter() - started:.1f} s")
        timings = asyncio.run(time_routes(data, args.requests))
    print(f"machine: {_cpu()}, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")
    print(f"{'route':<52} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, samples in timings.items():
        p95 = statistics.quantiles(samples, n=20)[-1]
        print(
            f"{name:<52} {len(samples):>4} {statistics.median(samples):>8.1f}"
            f" {p95:>8.1f} {max(samples):>8.1f}"
        )


if __name__ == "__main__":
    main()
