"""Engine set-up: SQLite pragmas, BEGIN IMMEDIATE for writers, aware UTC timestamps."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.accounts.models import Account
from app.db import NAMING_CONVENTION, Database, metadata


def _copy(sqlite_template: Path, tmp_path: Path, *, busy_timeout_ms: int) -> Database:
    path = tmp_path / "db.sqlite"
    path.write_bytes(sqlite_template.read_bytes())
    return Database(f"sqlite+aiosqlite:///{path}", busy_timeout_ms=busy_timeout_ms)


@pytest.fixture
def sqlite_db(sqlite_template: Path, tmp_path: Path) -> Database:
    return _copy(sqlite_template, tmp_path, busy_timeout_ms=5000)


async def test_sqlite_pragmas(sqlite_db: Database) -> None:
    async with sqlite_db.read_session() as session:
        conn = await session.connection()
        values = {
            name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
        }
    await sqlite_db.dispose()
    assert values == {
        "journal_mode": "wal",
        "synchronous": 1,
        "busy_timeout": 5000,
        "foreign_keys": 1,
    }


async def test_writers_take_the_lock_at_begin_and_readers_do_not(sqlite_db: Database) -> None:
    path = sqlite_db.url.removeprefix("sqlite+aiosqlite:///")
    other = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    try:
        async with sqlite_db.write_session() as session:
            await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            # BEGIN IMMEDIATE already ran: the write lock is held before any write...
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            # ...while readers go on reading.
            assert other.execute("SELECT count(*) FROM account").fetchone() == (0,)
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
        await sqlite_db.dispose()


async def test_timestamps_come_back_aware_utc(database: Database) -> None:
    shanghai = timezone(timedelta(hours=8))
    posted = datetime(2026, 11, 1, 20, 0, tzinfo=shanghai)
    async with database.write_session() as session:
        account = Account(
            platform="weibo",
            handle="1234567890",
            name="x",
            region_code="220102",
            last_post_at=posted,
        )
        session.add(account)
    async with database.read_session() as session:
        stored = await session.get(Account, account.id)
    assert stored is not None and stored.last_post_at is not None
    assert stored.last_post_at.tzinfo is not None
    assert stored.last_post_at.utcoffset() == timedelta(0)
    assert stored.last_post_at == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


async def test_naive_datetimes_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive"):
        async with database.write_session() as session:
            session.add(
                Account(
                    platform="weibo",
                    handle="1234567891",
                    name="x",
                    region_code="220102",
                    last_post_at=datetime(2026, 1, 1),
                )
            )


def test_naming_convention_is_set_before_tables() -> None:
    assert metadata.naming_convention == NAMING_CONVENTION
    names = {c.name for c in metadata.tables["account"].constraints}
    assert "uq_account_platform_handle" in names and "pk_account" in names


async def test_concurrent_writers_both_succeed(database: Database) -> None:
    async def add(n: int) -> None:
        async with database.write_session() as session:
            session.add(
                Account(
                    platform="weibo", handle=str(2_000_000_000 + n), name="x", region_code="220102"
                )
            )
            await asyncio.sleep(0.01)

    await asyncio.gather(*(add(n) for n in range(8)))
    async with database.read_session() as session:
        count = (await session.exec(text("SELECT count(*) FROM account"))).scalar()  # type: ignore[call-overload]
    assert count == 8


async def _hold_the_write_lock(database: Database, n: int, *, queued: bool) -> None:
    async with database.write_session(queued=queued) as session:
        session.add(
            Account(platform="weibo", handle=str(2_100_000_000 + n), name="x", region_code="220102")
        )
        await session.flush()  # BEGIN IMMEDIATE: SQLite's write lock is held from here
        await asyncio.sleep(0.05)


@pytest.fixture
def impatient_db(sqlite_template: Path, tmp_path: Path) -> Database:
    """A 1 ms busy timeout: SQLite itself refuses a second writer almost at once."""
    return _copy(sqlite_template, tmp_path, busy_timeout_ms=1)


async def test_queued_writers_take_turns_in_the_process(impatient_db: Database) -> None:
    unqueued = await asyncio.gather(
        *(_hold_the_write_lock(impatient_db, n, queued=False) for n in (0, 1)),
        return_exceptions=True,
    )
    assert [type(e) for e in unqueued if e is not None] == [OperationalError]
    assert "locked" in str(next(e for e in unqueued if e is not None))
    # Queued writers wait their turn on the process's lock and never meet SQLite's refusal.
    await asyncio.gather(*(_hold_the_write_lock(impatient_db, n, queued=True) for n in range(2, 8)))
    async with impatient_db.read_session() as session:
        count = (await session.exec(text("SELECT count(*) FROM account"))).scalar()  # type: ignore[call-overload]
    await impatient_db.dispose()
    assert count == 1 + 6  # the refused writer's row was rolled back


async def test_a_queued_writer_inside_another_falls_back_to_sqlite(sqlite_db: Database) -> None:
    """A queued writer opened inside another (a misuse) is not a deadlock: after the turn
    timeout it goes on as an unqueued writer would, and SQLite's busy handler decides."""
    sqlite_db.turn_timeout_s = 0.2
    account = Account(platform="weibo", handle="2200000000", name="x", region_code="220102")
    async with (
        sqlite_db.write_session(queued=True),
        sqlite_db.write_session(queued=True) as inner,
    ):
        inner.add(account)
    async with sqlite_db.read_session() as session:
        count = (await session.exec(text("SELECT count(*) FROM account"))).scalar()  # type: ignore[call-overload]
    await sqlite_db.dispose()
    assert count == 1
