"""Bench: a registry import that re-organises accounts, on SQLite or PostgreSQL (target < 3 s).

Run: .venv/bin/python bench/reorganise.py --from /tmp/r.db [--accounts 10000]
                                          [--move region|organization|archive]
     .venv/bin/python bench/reorganise.py --from postgresql+psycopg://postgres@127.0.0.1:5432/db

``--from`` is a database bench/reports.py built (100,000 accounts in 4,000 organisations,
flag history): a SQLite file, or a PostgreSQL URL. It is copied, never changed (a file copy;
``CREATE DATABASE … TEMPLATE`` on PostgreSQL, so nothing may be connected to it). On the
copy, ``--accounts`` accounts, whole organisations in name order (as a re-organisation moves
them), get handles an import accepts; then the same rows, moved, go through
``upsert_accounts`` (the code ``POST /api/v1/accounts:import`` and ``liveness accounts
import`` run), ``IMPORT_CHUNK`` rows at a time in one write transaction as the import
endpoint does, timed to its commit.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from report_data import sqlite_url
from sqlmodel import col, select

from app.accounts import service
from app.accounts.importing import IMPORT_CHUNK
from app.accounts.models import Account
from app.auth.schemas import Role
from app.auth.service import Principal
from app.db import Database, sync_url
from app.egress import EgressGuard
from app.migrations import upgrade

ADMIN = Principal(key_id=None, name="bench", role=Role.ADMIN, region_prefix=None)
FIELDS = (
    *("platform", "handle", "name", "organization", "region_code", "region_name"),
    *("department", "status", "category", "level", "check_interval_s"),
)
MOVES: dict[str, dict[str, str]] = {
    "region": {"region_code": "110101", "region_name": "北京市东城区"},
    "organization": {"organization": "新机构"},
    "archive": {"status": "archived"},
}


def _valid_handle(platform: str, n: int) -> str:
    return {
        "weibo": f"{1_000_000_000 + n}",
        "wechat": base64.b64encode(str(3_000_000_000 + n).encode()).decode(),
        "douyin": f"MS4wLjABAAAAbench{n:040d}",
        "appstore": f"{1_400_000_000 + n}",
        "huawei": f"C{100_000_000 + n}",
        "xiaomi": f"cn.gov.bench{n}",
        "yyb": f"cn.gov.bench{n}",
        "rss": f"https://www{n}.example.gov.cn/rss.xml",
        "website": f"https://www{n}.example.gov.cn/",
    }[platform]


@contextmanager
def copy_of(source: str) -> Iterator[str]:
    """A copy of the database ``source`` (a SQLite path or a PostgreSQL URL), dropped after."""
    if not source.startswith("postgresql"):
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "reorganise.db"
            shutil.copyfile(source, target)
            yield sqlite_url(target)
        return
    url = sa.make_url(source)
    name = f"reorganise_{uuid.uuid4().hex[:8]}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"')
    try:
        yield url.set(database=name).render_as_string(False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _chosen(url: str, accounts: int) -> None:
    """Give the first ``accounts`` accounts in organisation order handles an import accepts."""
    upgrade(url)
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            query = sa.text("SELECT id, platform FROM account ORDER BY organization, id LIMIT :n")
            rows = conn.execute(query, {"n": accounts}).all()
            handles = [{"id": i, "handle": _valid_handle(p, i)} for i, p in rows]
            conn.execute(sa.text("UPDATE account SET handle = :handle WHERE id = :id"), handles)
    finally:
        engine.dispose()


async def by_import(url: str, accounts: int, move: dict[str, str]) -> tuple[float, int]:
    """Seconds to upsert the chosen accounts' rows, moved, and commit; how many changed."""
    database = Database(url)
    try:
        async with database.read_session() as session:
            query = select(Account).order_by(col(Account.organization), col(Account.id))
            found = (await session.exec(query.limit(accounts))).all()
        rows: list[dict[str, Any]] = []
        for account in found:
            row = {field: getattr(account, field) for field in FIELDS}
            rows.append(row | {"tags": account.tag_list} | move)
        started = time.perf_counter()
        outcomes = []
        async with database.write_session() as session:
            # A chunk at a time in one transaction, as the import endpoint's SheetImport does.
            for start in range(0, len(rows), IMPORT_CHUNK):
                chunk = rows[start : start + IMPORT_CHUNK]
                outcomes += await service.upsert_accounts(
                    session, chunk, ADMIN, egress=EgressGuard()
                )
        elapsed = time.perf_counter() - started
    finally:
        await database.dispose()
    failed = [o.errors for o in outcomes if o.status == "error"]
    assert not failed, failed[:3]
    return elapsed, sum(o.status == "updated" for o in outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", required=True)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--move", choices=sorted(MOVES), default="region")
    parser.add_argument("--runs", type=int, default=3, help="each on a fresh copy")
    args = parser.parse_args()
    times = []
    updated = 0
    for _ in range(args.runs):
        with copy_of(args.source) as url:
            _chosen(url, args.accounts)
            elapsed, updated = asyncio.run(by_import(url, args.accounts, MOVES[args.move]))
            times.append(elapsed)
    kind = "PostgreSQL" if args.source.startswith("postgresql") else "SQLite"
    figures = ", ".join(f"{t:.2f}" for t in times)
    print(f"{kind}: {args.accounts} rows ({updated} changed), move {args.move}: {figures} s")


if __name__ == "__main__":
    main()
