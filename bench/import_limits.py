"""Bench: hostile and large uploads against a running `liveness serve`, and /healthz meanwhile.

Run: .venv/bin/python bench/import_limits.py [--rows 200000] [--skip-large]

Starts `liveness serve` on a fresh SQLite file (scheduler off), creates an operator key with
the CLI, then posts each workbook to `POST /api/v1/accounts:import` over real HTTP while
another task asks /healthz every 20 ms. For each: the answer and how long it took, the /healthz
latencies (max, median, count) while it ran, and the serve process's peak RSS after it. Cases:
the issue's 3-million-row workbook (~690 MB unzipped), the same with its declared sizes lying
(a 1 MB sheet), a 3-million-row sheet small enough unzipped that only the row limit refuses
it, a sheet past the row limit only at its last row, one 400 MB cell, a 100 MB cell inside the
unzip limit, a lying <dimension>, and the largest allowed import (`--rows`, written as
openpyxl writes a workbook) imported for real.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from checks import LIVENESS, database_url, free_port, wait_http  # noqa: E402

from tests.accounts import workbooks  # noqa: E402


def cases(rows: int, skip_large: bool) -> list[tuple[str, Callable[[], bytes], bool]]:
    """(name, builder, dry run) of every upload the bench posts."""
    found: list[tuple[str, Callable[[], bytes], bool]] = [
        ("3,000,000 rows, ~690 MB unzipped", lambda: workbooks.many_rows(3_000_000), True),
        (
            "the same, sheet declared as 1 MB",
            lambda: workbooks.lying_sizes(workbooks.many_rows(3_000_000), workbooks.SHEET, 1 << 20),
            True,
        ),
        ("3,000,000 one-cell rows (78 MB unzipped)", lambda: workbooks.tiny_rows(3_000_000), True),
        ("199,990 one-cell rows, then row 900,000", workbooks.gap_past_the_row_limit, True),
        ("one 400 MB cell", lambda: workbooks.huge_cell(400_000_000), True),
        ("one 100 MB cell", lambda: workbooks.huge_cell(100_000_000), True),
        ("<dimension> A1:XFD1048576", workbooks.lying_dimension, True),
    ]
    if not skip_large:
        found.append((f"{rows:,} rows, imported", lambda: workbooks.plain_workbook(rows), False))
    return found


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def poll_healthz(client: httpx.AsyncClient, stop: asyncio.Event) -> list[float]:
    """Latencies of /healthz asked every 20 ms until ``stop``."""
    latencies: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        response = await client.get("/healthz", timeout=600)
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
        await asyncio.sleep(0.02)
    return latencies


async def post(base: str, key: str, name: str, data: bytes, dry_run: bool) -> None:
    async with (
        httpx.AsyncClient(base_url=base) as uploads,
        httpx.AsyncClient(base_url=base) as health,
    ):
        stop = asyncio.Event()
        poller = asyncio.create_task(poll_healthz(health, stop))
        started = time.perf_counter()
        response = await uploads.post(
            "/api/v1/accounts:import",
            params={"dry_run": str(dry_run).lower()},
            files={"file": ("bench.xlsx", data)},
            headers={"Authorization": f"Bearer {key}"},
            timeout=1800,
        )
        elapsed = time.perf_counter() - started
        stop.set()
        latencies = await poller
    body = response.json()
    said = body.get("detail") or {k: body[k] for k in ("total", "created", "failed")}
    print(
        f"| {name} | {len(data) / 1e6:.2f} MB | {response.status_code} {said} | {elapsed:.2f} s "
        f"| {max(latencies) * 1000:.0f} ms | {statistics.median(latencies) * 1000:.0f} ms "
        f"| {len(latencies)} |",
        flush=True,
    )


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="the largest allowed import")
    parser.add_argument("--skip-large", action="store_true", help="hostile uploads only")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with database_url("sqlite") as url, tempfile.TemporaryDirectory() as tmp:
        env = os.environ | {"LIVENESS_DATABASE_URL": url, "LIVENESS_SCHEDULER_ENABLED": "false"}
        created = subprocess.run(
            [LIVENESS, "keys", "create", "--role", "operator", "--name", "bench"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        key = created.stdout.strip()
        port = free_port()
        log = (Path(tmp) / "serve.log").open("w")
        server = subprocess.Popen(
            [LIVENESS, "serve", "--port", str(port)], env=env, stdout=log, stderr=log, cwd=tmp
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/healthz")
            # The first request after start costs ~0.3 s whatever it is (lazy set-up): not
            # the uploads' doing, so it is made before anything is timed.
            httpx.post(
                f"{base}/api/v1/accounts:import?dry_run=true",
                files={"file": ("warm.xlsx", workbooks.lying_dimension())},
                headers={"Authorization": f"Bearer {key}"},
            ).raise_for_status()
            print("| upload | size | answer | time | /healthz max | median | asked |")
            print("|---|---:|---|---:|---:|---:|---:|")
            for name, build, dry_run in cases(args.rows, args.skip_large):
                data = build()
                asyncio.run(post(base, key, name, data, dry_run))
                print(f"  (peak RSS of liveness serve so far: {peak_rss_mb(server.pid):.0f} MB)")
        finally:
            server.terminate()
            server.wait(timeout=60)
            log.close()


if __name__ == "__main__":
    main()
