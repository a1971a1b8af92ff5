"""Bench: the flags and reports routes at 100,000 accounts, on SQLite or PostgreSQL.

Run: .venv/bin/python bench/reports.py [--keep /tmp/r.db | --database-url URL]
                                         [--requests 60] [--only organization]

The database is bench/report_data.py's (100,000 accounts, 1,000,000 checks, 80,000 flags):
built in a temporary SQLite file by default, or in the SQLite file ``--keep`` names, or in
the (empty) database ``--database-url`` names, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/liveness_bench``; a database that already
holds the data is reused. Each route is then timed through the ASGI app
(httpx.ASGITransport, a viewer key), after a warm-up request: the summary of every grouping
as of now (the open-flag mirror) and as of past time points (flag history), the problem
list and the open flags.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sqlite3
import statistics
import subprocess
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from report_data import BenchData, build_database, existing_data, sqlite_url

from app.auth import service as auth_service
from app.auth.schemas import Role
from app.config import Settings
from app.db import Database
from app.main import create_app

GROUPINGS = ("region", "organization", "department", "platform")
# Days before the data's now of the past time points: ~30,000 flags open at 0 and 1, ~26,000
# at 7 (the resolved ones opened 30-365 days back), fewer further back.
DAYS_BACK = (0, 1, 7, 30, 60, 123)
Route = tuple[str, dict[str, str]]


async def _viewer_key(url: str) -> str:
    database = Database(url)
    try:
        async with database.write_session() as session:
            _row, plain = await auth_service.create_key(session, name="bench", role=Role.VIEWER)
    finally:
        await database.dispose()
    return plain


def routes(data: BenchData) -> dict[str, Route]:
    """The timed requests by name."""
    summary = "/api/v1/reports/summary"
    named: dict[str, Route] = {f"{g}, now": (summary, {"group_by": g}) for g in GROUPINGS}
    for days in DAYS_BACK:
        at = (data.now - timedelta(days=days)).isoformat()
        when = "at = data's now" if days == 0 else f"at = {days} d before"
        for g in GROUPINGS:
            named[f"{g}, {when}"] = (summary, {"group_by": g, "at": at})
    at = data.now.isoformat()
    named["problems?limit=100"] = ("/api/v1/reports/problems", {"limit": "100", "at": at})
    named["flags?state=open"] = ("/api/v1/flags", {"state": "open"})
    return named


async def time_routes(data: BenchData, requests: int, only: str) -> dict[str, list[float]]:
    """Milliseconds per request for each route whose name contains ``only``."""
    key = await _viewer_key(data.url)
    settings = Settings(_env_file=None, database_url=data.url, scheduler_enabled=False)
    app = create_app(settings)
    timings: dict[str, list[float]] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=headers
        ) as client:
            for name, (path, params) in routes(data).items():
                if only not in name:
                    continue
                (await client.get(path, params=params)).raise_for_status()  # warm-up
                samples = []
                for _ in range(requests):
                    started = time.perf_counter()
                    response = await client.get(path, params=params)
                    samples.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                timings[name] = samples
    return timings


def machine(url: str) -> str:
    """The CPU, Python and database versions, for the figures' heading."""
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    model = [line.split(":", 1)[1].strip() for line in out.splitlines() if "Model name" in line]
    if url.startswith("sqlite"):
        database = f"SQLite {sqlite3.sqlite_version}"
    else:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            database = f"PostgreSQL {conn.scalar(sa.text('SHOW server_version'))}"
        engine.dispose()
    cpu = model[0] if model else platform.processor()
    return f"{cpu}, Python {platform.python_version()}, {database}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--checks-per-account", type=int, default=10)
    parser.add_argument("--open-flags", type=int, default=30_000)
    parser.add_argument("--resolved-flags", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--only", default="", help="time only the routes whose name has this")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--keep", type=Path, help="build (or reuse) a SQLite file at this path")
    where.add_argument("--database-url", help="build in (or reuse) this database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or sqlite_url(args.keep or Path(tmp) / "reports.db")
        started = time.perf_counter()
        data = existing_data(url)
        if data is not None:
            print(f"reusing {data.accounts:,} accounts, {data.checks:,} checks")
        else:
            data = build_database(
                url,
                accounts=args.accounts,
                checks_per_account=args.checks_per_account,
                open_flags=args.open_flags,
                resolved_flags=args.resolved_flags,
            )
            print(f"built in {time.perf_counter() - started:.1f} s")
        timings = asyncio.run(time_routes(data, args.requests, args.only))
    print(f"machine: {machine(url)}")
    print(f"{'route':<44} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, samples in timings.items():
        p95 = statistics.quantiles(samples, n=20)[-1]
        print(
            f"{name:<44} {len(samples):>4} {statistics.median(samples):>8.1f}"
            f" {p95:>8.1f} {max(samples):>8.1f}"
        )


if __name__ == "__main__":
    main()
