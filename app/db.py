"""Engines and sessions for SQLite and PostgreSQL.

SQLite gets WAL, synchronous=NORMAL, a busy timeout and foreign keys on every connection, and
write transactions start with ``BEGIN IMMEDIATE`` so two writers never deadlock upgrading a
read lock. Read sessions start a deferred transaction so they never wait for a writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, MetaData, TypeDecorator, event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = ["Database", "UTCDateTime", "sync_url", "utcnow"]

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
            except BaseException:
                await session.rollback()
                raise

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


def utcnow() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)
