"""A database whose disk fills up and frees again, for the disk-full tests.

Where the machine lets a test mount a filesystem (root, as here and in CI), the database lives
on a real small tmpfs: SQLite's file, or a PostgreSQL tablespace the test database is created
in. ``fill`` writes a file until the filesystem answers ENOSPC; ``free`` deletes it. Elsewhere
the same tests run on an injection that goes through each database's own error path: SQLite's
``PRAGMA max_page_count`` (set on each connection as the pool hands it out) makes SQLite itself
refuse to grow the file with SQLITE_FULL, and PostgreSQL triggers raise its real disk_full
error (SQLSTATE 53100, psycopg's DiskFull) on every write statement and every CREATE.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event

from app.db import Database
from tests.conftest import PG_HOST, _pg_admin, drop_pg_database, fresh_pg_database, pg_url

__all__ = ["FullDisk", "full_disk"]

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def _mount_tmpfs(size_mb: int, owner: tuple[int, int] | None = None) -> Path | None:
    """A fresh tmpfs of ``size_mb`` (owned by ``owner``), or None where mounting is refused."""
    where = Path(tempfile.mkdtemp(prefix="liveness-disk-"))
    options = f"size={size_mb}m"
    if owner is not None:
        options += f",uid={owner[0]},gid={owner[1]},mode=0700"
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except OSError:
        done = None
    if done is None or done.returncode != 0:
        where.rmdir()
        return None
    return where


def _unmount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=10, check=False)
    with contextlib.suppress(OSError):
        where.rmdir()


class FullDisk:
    """A database ``url`` and the means to fill its disk and free it again.

    ``real``: a real filesystem fills up. ``attach`` must be given the Database the service
    uses (the SQLite injection acts on its connections). ``small_writes_fit``: a write that
    needs no new page still succeeds while full (the SQLite injection only).
    """

    small_writes_fit = False

    def __init__(self, url: str, *, real: bool, where: Path | None = None) -> None:
        self.url = url
        self.real = real
        self._where = where
        self._full = False

    def fill(self) -> None:
        """From now on the database cannot grow."""
        self._full = True
        if self._where is not None:
            descriptor = os.open(self._where / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while True:
                    os.write(descriptor, b"\0" * 65536)
            except OSError:  # ENOSPC (a write that does not fit writes what does first)
                pass
            finally:
                os.close(descriptor)
        else:
            self._inject(True)

    def free(self) -> None:
        """Space returns."""
        self._full = False
        if self._where is not None:
            (self._where / "filler").unlink(missing_ok=True)
        else:
            self._inject(False)

    def attach(self, database: Database) -> None:
        """Let the injection (if any) reach the connections of ``database``."""

    def _inject(self, full: bool) -> None:
        raise NotImplementedError


class _InjectedSQLite(FullDisk):
    """SQLite refuses to grow the file past its size while full (``max_page_count``).

    A write that fits in the free room of pages it already has needs no new page, so the file
    gets SQLite's smallest page size: a row of more than about a hundred bytes then takes an
    overflow page, and nearly every write needs a new page, as every write needs new space
    on a real full disk. The first rows of an empty table still fit in its root page.
    """

    small_writes_fit = True

    def __init__(self, url: str, path: Path) -> None:
        super().__init__(url, real=False)
        self._path = path
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
            db.execute("PRAGMA journal_mode=DELETE")  # the page size is fixed in WAL mode
            db.execute("PRAGMA page_size=512")
            db.execute("VACUUM")

    def attach(self, database: Database) -> None:
        def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            # Cannot be set below the current size, so 1 means "no more pages".
            limit = 1 if self._full else 1073741823
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA max_page_count={limit}")
            cursor.close()

        event.listen(database.engine.sync_engine, "checkout", on_checkout)

    def _inject(self, full: bool) -> None:
        if full:  # no free pages left inside the file to write into either
            with contextlib.closing(sqlite3.connect(self._path, isolation_level=None)) as db:
                db.execute("VACUUM")


_PG_INJECTION = """
CREATE FUNCTION liveness_test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'
    USING ERRCODE = 'disk_full'; END $$;
CREATE FUNCTION liveness_test_disk_full_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'could not create file: No space left on device'
    USING ERRCODE = 'disk_full'; END $$;
DO $$ DECLARE t text; BEGIN
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
        EXECUTE format('CREATE TRIGGER liveness_test_disk_full BEFORE INSERT OR UPDATE OR DELETE
            ON %I FOR EACH STATEMENT EXECUTE FUNCTION liveness_test_disk_full()', t);
    END LOOP; END $$;
CREATE EVENT TRIGGER liveness_test_disk_full ON ddl_command_start
    EXECUTE FUNCTION liveness_test_disk_full_ddl();
"""
_PG_RELEASE = """
DROP EVENT TRIGGER liveness_test_disk_full;
DO $$ DECLARE t text; BEGIN
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
        EXECUTE format('DROP TRIGGER liveness_test_disk_full ON %I', t);
    END LOOP; END $$;
DROP FUNCTION liveness_test_disk_full(), liveness_test_disk_full_ddl();
"""


class _InjectedPostgres(FullDisk):
    """Every write statement and every CREATE raises PostgreSQL's disk_full while full."""

    def __init__(self, url: str, name: str) -> None:
        super().__init__(url, real=False)
        self._name = name

    def _inject(self, full: bool) -> None:
        connection = psycopg.connect(pg_url(self._name, "postgresql"), autocommit=True)
        with connection:
            connection.execute(_PG_INJECTION if full else _PG_RELEASE)


def _postgres_owner() -> tuple[int, int] | None:
    """The uid and gid of the local PostgreSQL server (None: not on this machine)."""
    if PG_HOST not in _LOCAL_HOSTS:
        return None
    with _pg_admin() as connection:
        row = connection.execute("SHOW data_directory").fetchone()
    try:
        found = os.stat(str(row[0])) if row else None
    except OSError:
        return None
    return (found.st_uid, found.st_gid) if found else None


@contextlib.contextmanager
def full_disk(backend: str, mode: str, template: Any, tmp_path: Path) -> Iterator[FullDisk]:
    """A fresh migrated database on ``backend`` whose disk can be filled: on a real tmpfs when
    ``mode`` is "filesystem" and the machine allows a mount, else by injection."""
    if backend == "sqlite":
        where = _mount_tmpfs(8) if mode == "filesystem" else None
        folder = where or tmp_path
        path = folder / "liveness.db"
        shutil.copyfile(template, path)
        url = f"sqlite+aiosqlite:///{path}"
        try:
            yield FullDisk(url, real=True, where=where) if where else _InjectedSQLite(url, path)
        finally:
            if where is not None:
                _unmount(where)
        return
    owner = _postgres_owner() if mode == "filesystem" else None
    where = _mount_tmpfs(32, owner) if owner else None
    if where is None:
        name = fresh_pg_database(template)
        try:
            yield _InjectedPostgres(pg_url(name), name)
        finally:
            drop_pg_database(name)
        return
    space, name = f"liveness_disk_{uuid.uuid4().hex[:10]}", f"liveness_t_{uuid.uuid4().hex[:12]}"
    try:
        with _pg_admin() as connection:
            connection.execute(f"CREATE TABLESPACE {space} LOCATION '{where}'")
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" TABLESPACE {space}')
        yield FullDisk(pg_url(name), real=True, where=where)
    finally:
        drop_pg_database(name)
        with _pg_admin() as connection:
            connection.execute(f"DROP TABLESPACE IF EXISTS {space}")
        _unmount(where)
