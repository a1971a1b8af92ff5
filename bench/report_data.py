"""The reports benchmarks' database: 100,000 accounts, 1,000,000 checks, 80,000 flags.

``build_database(url)`` migrates the database at ``url`` (SQLite or PostgreSQL, empty) and
fills it without the ORM: plain sqlite3 executemany, or psycopg COPY. A registry spread over
100 counties, 40 departments (4,000 organisations) and every platform, 97% active, 95%
checked; ten check rows per account over the last 30 days; 30,000 open and 50,000 resolved
flags (veto: stale, unreachable); then the accounts' open-flag mirror as the flag lifecycle
keeps it, and fresh planner statistics (ANALYZE; VACUUM ANALYZE on PostgreSQL, so its
index-only scans see an up-to-date visibility map). bench/reports.py, bench/metrics.py and
bench/reorganise.py use it.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import sqlalchemy as sa

import monitors
from app.db import sync_url
from app.flags.policy import FLAG_BITS
from app.migrations import upgrade

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
DEPARTMENTS = [f"部门{n:02d}" for n in range(40)]
CODES_VETO = {"stale": True, "unreachable": True}
FLAG_CODES = ["stale", "zombie", "empty_shell", "unreachable", "unverified", "app_outdated"]
GONE_OUTCOMES = ("deleted", "banned", "not_found")
ACCOUNT_COLUMNS = (
    "platform, handle, name, organization, region_code, region_name, department, level,"
    " category, status, tags, created_at, updated_at, first_checked_at, last_checked_at,"
    " last_outcome, last_post_at, unknown_streak"
)
CHECK_COLUMNS = "account_id, platform, checked_at, outcome, outcome_class, http_status, evidence"
FLAG_COLUMNS = (
    "account_id, platform, code, state, veto, rule, source, opened_at, resolved_at, evidence,"
    " resolution"
)
_MIRROR_SQL = (
    "UPDATE account SET open_flags = COALESCE((SELECT SUM(CASE flag.code "  # noqa: S608
    + " ".join(f"WHEN '{code}' THEN {bit}" for code, bit in FLAG_BITS.items())
    + " ELSE 0 END) FROM flag WHERE flag.account_id = account.id AND flag.state = 'open'), 0),"
    " veto_open = EXISTS (SELECT 1 FROM flag WHERE flag.account_id = account.id"
    " AND flag.state = 'open' AND flag.veto)"
)


@dataclass(frozen=True)
class BenchData:
    """What ``build_database`` wrote, and where."""

    url: str
    accounts: int
    checks: int
    open_flags: int
    resolved_flags: int
    now: datetime


def sqlite_url(path: Path) -> str:
    """The application's URL of the SQLite file at ``path``."""
    return f"sqlite+aiosqlite:///{path}"


def _ts(value: datetime) -> str:
    # The text form SQLAlchemy's SQLite DateTime stores (UTC, naive, microseconds); PostgreSQL
    # reads it as UTC in a session whose time zone is UTC.
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
        n, which = divmod(pair, len(FLAG_CODES))
        code = FLAG_CODES[which]
        opened = now - timedelta(days=rng.uniform(0, 90))
        evidence = json.dumps({"last_post_at": _ts(opened - timedelta(days=14)), "check_id": n})
        yield (
            n + 1,
            platforms[n % len(platforms)],
            code,
            "open",
            CODES_VETO.get(code, False),
            "days=14",
            "国办秘函〔2019〕19号",
            _ts(opened),
            None,
            evidence,
            "{}",
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
            "{}",
        )


Tables = list[tuple[str, str, Iterable[tuple[object, ...]]]]


def _fill_sqlite(path: str, tables: Tables) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        for table, columns, rows in tables:
            marks = ",".join("?" * len(columns.split(",")))
            with conn:
                conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608
        with conn:
            conn.execute(_MIRROR_SQL)
        conn.execute("ANALYZE")
    finally:
        conn.close()


def _fill_postgresql(conninfo: str, tables: Tables) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        for table, columns, rows in tables:
            copying = f"COPY {table} ({columns}) FROM STDIN"
            with conn.transaction(), conn.cursor() as cursor, cursor.copy(copying) as copy:
                for row in rows:
                    copy.write_row(row)
        conn.execute(_MIRROR_SQL)
        conn.execute("VACUUM ANALYZE")


def build_database(
    url: str,
    *,
    accounts: int = 100_000,
    checks_per_account: int = 10,
    open_flags: int = 30_000,
    resolved_flags: int = 50_000,
    seed: int = 7,
    now: datetime = NOW,
) -> BenchData:
    """Migrate the (empty) database at ``url`` and fill it with a registry, its check history
    and its flags."""
    upgrade(url)
    rng = random.Random(seed)
    tables: Tables = [
        ("account", ACCOUNT_COLUMNS, _account_rows(accounts, rng, now)),
        ("check_result", CHECK_COLUMNS, _check_rows(accounts, checks_per_account, rng, now)),
        ("flag", FLAG_COLUMNS, _flag_rows(accounts, open_flags, resolved_flags, rng, now)),
    ]
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _fill_sqlite(str(parsed.database), tables)
    else:
        _fill_postgresql(parsed.set(drivername="postgresql").render_as_string(False), tables)
    checks = accounts * checks_per_account
    return BenchData(url, accounts, checks, open_flags, resolved_flags, now)


def existing_data(url: str, now: datetime = NOW) -> BenchData | None:
    """The bench data already at ``url`` (upgraded to the newest schema), or None when the
    database holds no accounts yet."""
    upgrade(url)
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            counts = [
                conn.scalar(sa.text(query))
                for query in (
                    "SELECT count(*) FROM account",
                    "SELECT count(*) FROM check_result",
                    "SELECT count(*) FROM flag WHERE state = 'open'",
                    "SELECT count(*) FROM flag WHERE state <> 'open'",
                )
            ]
    finally:
        engine.dispose()
    if not counts[0]:
        return None
    accounts, checks, open_count, resolved = (int(c or 0) for c in counts)
    return BenchData(url, accounts, checks, open_count, resolved, now)
