"""Bench: a Prometheus scrape of GET /metrics at 100,000 accounts, per-account series on, off.

Run: .venv/bin/python bench/metrics.py [--keep /tmp/reports.db] [--scrapes 10]

Uses the database of bench/report_data.py (built with ``build_database``, or reused with
``--keep``) and times scrapes through the ASGI app, after a warm-up scrape.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_data import build_database, existing_data, sqlite_url

from app.config import Settings
from app.main import create_app


async def time_scrapes(path: Path, scrapes: int, per_account: bool) -> tuple[list[float], int]:
    """Milliseconds per scrape and the size of the last answer in bytes."""
    settings = Settings(
        _env_file=None,
        database_url=sqlite_url(path),
        scheduler_enabled=False,
        metrics_per_account=per_account,
    )
    app = create_app(settings)
    samples: list[float] = []
    size = 0
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            (await client.get("/metrics")).raise_for_status()  # warm-up
            for _ in range(scrapes):
                started = time.perf_counter()
                response = await client.get("/metrics")
                samples.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                size = len(response.content)
    return samples, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--scrapes", type=int, default=10)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the database at this path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "reports.db"
        if existing_data(sqlite_url(path)) is None:
            build_database(sqlite_url(path), accounts=args.accounts)
        print(f"{'per-account series':<20} {'n':>4} {'p50 ms':>8} {'max ms':>8} {'bytes':>11}")
        for per_account in (True, False):
            samples, size = asyncio.run(time_scrapes(path, args.scrapes, per_account))
            print(
                f"{'on' if per_account else 'off':<20} {len(samples):>4}"
                f" {statistics.median(samples):>8.1f} {max(samples):>8.1f} {size:>11,}"
            )


if __name__ == "__main__":
    main()
