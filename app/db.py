"""Engines and sessions for SQLite and PostgreSQL.

SQLite gets WAL, synchronous=NORMAL, a busy timeout and foreign keys on every connection, and
write transactions start with ``BEGIN IMMEDIATE`` so two writers never deadlock upgrading a
read lock. Read sessions start a deferred transaction so they never wait for a writer.

A write refused for want of disk space is remembered until a write commits again, so /readyz
can say so while reads (which still work on a full disk) answer as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Dialect,
    MetaData,
    Table,
    Text,
    TypeDecorator,
    event,
    insert,
)
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = [
    "DISK_FULL",
    "Database",
    "UTCDateTime",
    "Unwritable",
    "insert_rows",
    "sync_url",
    "unwritable_reason",
    "utcnow",
]

# Set before any table model is defined, so every constraint has a stable name from the first
# migration on (Alembic batch mode on SQLite needs named constraints).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata

_BEGIN_OPTION = "liveness_sqlite_begin"

# aiosqlite logs every statement with its parameters (key hashes, webhook secrets) at DEBUG.
logging.getLogger("aiosqlite").setLevel(logging.INFO)


DISK_FULL = "the disk is full"
# SQLite's SQLITE_FULL ("database or disk is full"; extended codes keep it in the low byte),
# and SQLITE_IOERR_SHMSIZE, what a connection meets when the WAL index (the -shm file) cannot
# grow: on a full tmpfs even reads opening the database fail with it.
_SQLITE_FULL, _SQLITE_IOERR_SHMSIZE = 13, 10 | (19 << 8)
# PostgreSQL's class 53, insufficient resources; 53100 is disk_full.
_PG_RESOURCES, _PG_DISK_FULL = "53", "53100"
# How much a readiness probe writes: a few pages, so a disk with no room for them fails it.
_PROBE_BYTES = 32 * 1024


def unwritable_reason(exc: BaseException) -> str | None:
    """Why the database cannot take writes now, when ``exc`` (or what it wraps) says so:
    ``DISK_FULL`` for SQLite's SQLITE_FULL and IOERR_SHMSIZE and PostgreSQL's disk_full
    (53100), a phrase naming the SQLSTATE for PostgreSQL's other insufficient-resources errors
    (class 53). None for any other error: a bug or bad input, not a condition that passes."""
    current: BaseException | None = exc
    for _ in range(5):  # the error, what SQLAlchemy wraps, and a few causes
        if current is None:
            return None
        for error in (current, getattr(current, "orig", None)):
            code = getattr(error, "sqlite_errorcode", None)
            if isinstance(code, int) and (
                code & 0xFF == _SQLITE_FULL or code == _SQLITE_IOERR_SHMSIZE
            ):
                return DISK_FULL
            state = getattr(error, "sqlstate", None)
            if isinstance(state, str) and state.startswith(_PG_RESOURCES):
                if state == _PG_DISK_FULL:
                    return DISK_FULL
                return f"the database server is out of resources (SQLSTATE {state})"
        current = current.__cause__ or current.__context__
    return None


@dataclass(frozen=True, slots=True)
class Unwritable:
    """The last write refused for want of resources, and when."""

    reason: str
    since: datetime


def sync_url(url: str) -> str:
    """The synchronous driver URL for the same database (Alembic runs synchronously)."""
    return url.replace("sqlite+aiosqlite://", "sqlite://")


def _install_sqlite_pragmas(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One engine and its two session factories: ``write`` (BEGIN IMMEDIATE on SQLite) and
    ``read`` (deferred). On PostgreSQL both are ordinary transactions."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 5000, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # Parameters are key hashes and webhook secrets: never in error messages or echo.
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": busy_timeout_ms / 1000}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine = create_async_engine(url, **kwargs)
        read_bind = self.engine
        if self.is_sqlite:
            _install_sqlite_pragmas(self.engine, busy_timeout_ms)
            read_bind = self.engine.execution_options(**{_BEGIN_OPTION: "DEFERRED"})
        self.write = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self.read = async_sessionmaker(read_bind, class_=AsyncSession, expire_on_commit=False)
        #: How long a queued writer waits for its turn before going on without it.
        self.turn_timeout_s = max(5.0, busy_timeout_ms / 1000)
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        #: Set when a write fails for want of disk space (or, on PostgreSQL, other resources);
        #: cleared when a write commits. This process's writes only: each process has its own.
        self.unwritable: Unwritable | None = None

    @asynccontextmanager
    async def write_session(self, *, queued: bool = False) -> AsyncIterator[AsyncSession]:
        """A write transaction that commits on success and rolls back on any error.

        ``queued``: on SQLite, wait for this process's other queued writers first (the
        background writers: checks, claims). Only for a session that writes at once and opens
        no other write session inside: the lock is held from here, not from the first
        statement as SQLite's is (an API request's session may wait for its key's touch).
        """
        turn = self._writer_turn() if queued else contextlib.nullcontext()
        async with turn, self.write() as session:
            try:
                yield session
                await session.commit()
            except BaseException as exc:
                await session.rollback()
                reason = unwritable_reason(exc)
                if reason is not None and self.unwritable is None:
                    self.unwritable = Unwritable(reason, utcnow())
                raise
        self.unwritable = None

    async def probe_write(self) -> Unwritable | None:
        """Whether a small real write commits now; what stops it if not (None: it did).

        A table is created, given ``_PROBE_BYTES`` of incompressible text and dropped, in one
        committed transaction: the pages it needs are really allocated and logged, so a disk
        still full fails it, and nothing is left behind (the table is gone at commit, so the
        schema Alembic compares never sees it). /readyz runs it only while ``unwritable`` is
        set, so the state clears when space returns even if nothing else writes. Errors other
        than a want of resources propagate.
        """
        probe = Table(
            f"liveness_write_probe_{secrets.token_hex(6)}", MetaData(), Column("payload", Text)
        )
        try:
            async with self.write_session(queued=True) as session:
                connection = await session.connection()
                await connection.run_sync(probe.create)
                await connection.execute(
                    probe.insert(), {"payload": secrets.token_hex(_PROBE_BYTES // 2)}
                )
                await connection.run_sync(probe.drop)
        except Exception as exc:
            if unwritable_reason(exc) is None:
                raise
        return self.unwritable

    @asynccontextmanager
    async def _writer_turn(self) -> AsyncIterator[None]:
        """On SQLite, this process's queued writers take turns on a lock before BEGIN IMMEDIATE.

        SQLite has one writer at a time; a second BEGIN IMMEDIATE waits in SQLite's busy
        handler, which sleeps 1, 2, 5 … up to 100 ms between tries whatever the holder does.
        With checks, claims and webhooks writing side by side, those sleeps left each batch of
        checks waiting ~30 ms for a lock freed long before (bench/README.md). Queued on a lock
        here, the next writer starts the moment the last one commits. Other processes still
        meet SQLite's own handler, and so does a writer that waited ``turn_timeout_s`` here.
        """
        if not self.is_sqlite:
            yield
            return
        loop = asyncio.get_running_loop()
        lock = self._turns.get(loop)
        if lock is None:
            lock = self._turns[loop] = asyncio.Lock()
        try:
            async with asyncio.timeout(self.turn_timeout_s):
                await lock.acquire()
        except TimeoutError:
            yield  # as without the lock: SQLite's busy handler decides
            return
        try:
            yield
        finally:
            lock.release()

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction; nothing is committed. Closing (not rolling back) keeps
        loaded objects usable after the session ends."""
        async with self.read() as session:
            yield session

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back as an aware UTC datetime.

    SQLite has no time zones; without this, values written aware come back naive.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def insert_rows(
    connection: AsyncConnection, table: Table, rows: list[dict[str, Any]]
) -> None:
    """Insert many rows of ``table`` (dicts with the same keys) in the caller's transaction.

    On PostgreSQL with COPY: executemany sends a statement per row (~35 µs each, 4.5 s for
    the 124,000 rows of an inspection of 100,000 accounts, against 0.6 s); SQLite runs in
    process and takes executemany as fast as it comes."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        await connection.execute(insert(table), rows)
        return
    names = list(rows[0])
    columns = ", ".join(f'"{name}"' for name in names)  # the table's own column names
    raw = await connection.get_raw_connection()
    statement = f'COPY "{table.name}" ({columns}) FROM STDIN'
    cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
    async with cursor, cursor.copy(statement) as copy:
        for row in rows:
            await copy.write_row([row[name] for name in names])


def utcnow() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)
