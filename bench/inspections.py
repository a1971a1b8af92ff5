"""Bench: taking an inspection of 100,000 accounts, whole and as a 35% sample, and reading it.

Builds (or reuses, ``--keep`` or ``--database-url``) the registry of bench/report_data.py
(100,000 accounts, 1,000,000 checks, 30,000 open and 50,000 resolved flags) on SQLite or
PostgreSQL, then runs the code ``POST /api/v1/inspections``
runs (``service.take`` in one write transaction) and what ``GET /api/v1/inspections/{id}`` and
the exports run, timing each. The time point is 7 days before the data's now, so the flags and
checks after it are read and left out.

    .venv/bin/python bench/inspections.py --keep /tmp/r.db
    .venv/bin/python bench/inspections.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/rp_bench
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pydantic_core import to_json
from report_data import NOW, build_database, existing_data, sqlite_url
from reports import machine

from app.auth.schemas import Role
from app.auth.service import Principal
from app.db import Database
from app.inspections import bulletin, export, service
from app.inspections.schemas import InspectionCreate

T = TypeVar("T")
OPERATOR = Principal(key_id=None, name="bench", role=Role.OPERATOR, region_prefix=None)


async def _timed(label: str, work: Callable[[], Awaitable[T]]) -> T:
    started = time.perf_counter()
    result = await work()
    print(f"{label:<44} {time.perf_counter() - started:>7.2f} s")
    return result


async def run(url: str) -> None:
    """Take the whole registry and a 35% sample, then read and export each."""
    database = Database(url)
    at = NOW - timedelta(days=7)
    try:
        for label, sample in (("whole registry", None), ("35% sample", {"ratio": 0.35, "seed": 1})):
            body = InspectionCreate.model_validate(
                {"name": label, "at": at.isoformat(), "sample": sample}
            )

            async def take(body: InspectionCreate = body) -> service.Taken:
                async with database.write_session() as session:
                    return await service.take(session, body, OPERATOR, now=NOW, seed=0)

            taken = await _timed(f"take: {label}", take)
            print(f"  {taken.inspection.sampled} accounts, {taken.inspection.passing} passing")
            inspection_id = taken.inspection.id
            assert inspection_id is not None

            async def read(inspection_id: int = inspection_id) -> dict[str, Any]:
                async with database.read_session() as session:
                    found = await service.get(session, inspection_id, None)
                    return await service.result(session, found)

            result = await _timed(f"read the whole result: {label}", read)

            async def serialise(result: dict[str, Any] = result) -> bytes:
                return to_json(result)

            body_bytes = await _timed(f"  to JSON: {label}", serialise)
            print(f"  {len(body_bytes) / 1e6:.1f} MB of JSON")

            async def workbook(result: dict[str, Any] = result) -> bytes:
                return export.to_xlsx(result)

            async def draft(result: dict[str, Any] = result) -> bytes:
                return bulletin.to_docx(result)

            await _timed(f"  XLSX: {label}", workbook)
            await _timed(f"  DOCX: {label}", draft)
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--keep", type=Path, help="build (or reuse) a SQLite file at this path")
    where.add_argument("--database-url", help="build in (or reuse) this database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or sqlite_url(args.keep or Path(tmp) / "inspections.db")
        if existing_data(url) is None:
            started = time.perf_counter()
            build_database(url)
            print(f"built in {time.perf_counter() - started:.1f} s")
        print(f"machine: {machine(url)}")
        asyncio.run(run(url))


if __name__ == "__main__":
    main()
