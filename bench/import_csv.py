"""Bench: import a 10,000-row CSV through the API's import path on SQLite (target < 5 s).

Run: .venv/bin/python bench/import_csv.py [--rows 10000]
Measures parse + validate + upsert + commit, the same code `POST /api/v1/accounts:import`
and `liveness accounts import` run, against a freshly migrated SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import platform
import tempfile
import time
from pathlib import Path

from app.accounts.importing import SheetImport
from app.accounts.spreadsheet import COLUMNS, read_rows
from app.auth.schemas import Role
from app.auth.service import Principal
from app.db import Database
from app.egress import EgressGuard
from app.migrations import upgrade
from app.sheets import SheetLimits

PRINCIPAL = Principal(key_id=None, name="bench", role=Role.ADMIN, region_prefix=None)


def make_csv(rows: int) -> bytes:
    """A registry sheet of ``rows`` Weibo and website accounts with Chinese labels."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([h for h, _ in COLUMNS])
    for n in range(rows):
        if n % 2:
            platform_label, handle = "微博", str(1_000_000_000 + n)
        else:
            platform_label, handle = "网站", f"https://www{n}.example.gov.cn/"
        writer.writerow(
            [
                f"账号{n}",
                platform_label,
                handle,
                f"单位{n % 300}",
                "220102",
                "长春市南关区",
                "办公室",
                "市级",
                "政务发布",
                "正常",
                "重点,试点",
            ]
        )
    return out.getvalue().encode()


async def run(rows: int) -> tuple[float, float, int]:
    data = make_csv(rows)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        database = Database(url)
        try:
            started = time.perf_counter()
            _header, sheet_rows = read_rows(data, "bench.csv", SheetLimits())
            async with database.write_session() as session:
                report = await SheetImport(PRINCIPAL, egress=EgressGuard(), dry_run=False).all(
                    session, list(sheet_rows)
                )
            first = time.perf_counter() - started
            started = time.perf_counter()
            _header, sheet_rows = read_rows(data, "bench.csv", SheetLimits())
            async with database.write_session() as session:
                again = await SheetImport(PRINCIPAL, egress=EgressGuard(), dry_run=False).all(
                    session, list(sheet_rows)
                )
            second = time.perf_counter() - started
        finally:
            await database.dispose()
    assert report.created == rows and again.unchanged == rows, (report, again)
    return first, second, len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    first, second, size = asyncio.run(run(args.rows))
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    print(
        f"import {args.rows} new rows ({size / 1e6:.1f} MB CSV): {first:.2f} s "
        f"({args.rows / first:,.0f} rows/s)"
    )
    print(
        f"re-import {args.rows} unchanged rows: {second:.2f} s ({args.rows / second:,.0f} rows/s)"
    )


if __name__ == "__main__":
    main()
