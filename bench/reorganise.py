"""Bench: a registry import that re-organises accounts under the summary checkpoints (SQLite).

Run: .venv/bin/python bench/reorganise.py --from /tmp/reports.db [--accounts 1000]
                                          [--move region|organization|archive]

``--from`` is a database kept by ``bench/reports.py --keep`` (100,000 accounts in 4,000
organisations, flag history, 122 checkpoints); it is copied, never changed. ``--accounts``
accounts, whole organisations in name order (as a re-organisation moves them), get handles an
import accepts, then are moved in two ways on fresh copies, each timed to its commit:

- import: the rows through ``upsert_accounts`` (the API upload and ``liveness accounts
  import``), which moves their checkpoint shares in one statement (app/reports/moves.py);
- trigger: one SQL UPDATE of the same accounts, moved by the per-account trigger.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from app.accounts import service
from app.accounts.models import Account
from app.auth.schemas import Role
from app.auth.service import Principal
from app.db import Database
from app.egress import EgressGuard
from app.migrations import upgrade

ADMIN = Principal(key_id=None, name="bench", role=Role.ADMIN, region_prefix=None)
FIELDS = ("platform", "handle", "name", "organization", "region_code", "region_name")
FIELDS += ("department", "status", "category", "level", "check_interval_s")
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


_CHOSEN = "SELECT id FROM account ORDER BY organization, id LIMIT ?"


def _copy(source: Path, target: Path, accounts: int) -> str:
    shutil.copyfile(source, target)
    url = f"sqlite+aiosqlite:///{target}"
    upgrade(url)
    with sqlite3.connect(target) as connection:
        connection.create_function("valid_handle", 2, _valid_handle)
        connection.execute(
            f"UPDATE account SET handle = valid_handle(platform, id) WHERE id IN ({_CHOSEN})",  # noqa: S608
            (accounts,),
        )
    return url


async def _by_import(url: str, accounts: int, move: dict[str, str]) -> float:
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
        async with database.write_session() as session:
            outcomes = await service.upsert_accounts(session, rows, ADMIN, egress=EgressGuard())
        elapsed = time.perf_counter() - started
    finally:
        await database.dispose()
    failed = [o.errors for o in outcomes if o.status == "error"]
    assert not failed, failed[:3]
    return elapsed


def _by_trigger(path: Path, accounts: int, move: dict[str, str]) -> float:
    assignments = ", ".join(f"{column} = ?" for column in move)
    started = time.perf_counter()
    with sqlite3.connect(path) as connection:
        connection.execute(
            f"UPDATE account SET {assignments} WHERE id IN ({_CHOSEN})",  # noqa: S608 - our own columns
            (*move.values(), accounts),
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, required=True)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--move", choices=sorted(MOVES), default="region")
    args = parser.parse_args()
    move = MOVES[args.move]
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "reorganise.db"
        url = _copy(args.source, target, args.accounts)
        by_import = asyncio.run(_by_import(url, args.accounts, move))
        _copy(args.source, target, args.accounts)
        by_trigger = _by_trigger(target, args.accounts, move)
    print(f"{args.accounts} accounts, move {args.move}")
    print(f"  import (one statement): {by_import:6.2f} s")
    print(f"  trigger (per account):  {by_trigger:6.2f} s")


if __name__ == "__main__":
    main()
