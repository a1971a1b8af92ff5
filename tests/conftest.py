"""Shared fixtures: a migrated database per test on SQLite and on PostgreSQL, the app, keys.

Each backend is migrated once per session into a template (a file on SQLite, a template
database on PostgreSQL); every test gets a fresh copy, dropped afterwards. PostgreSQL tests
skip on a machine without the server, except in CI (CI=true), where they must run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from app.auth import service as auth_service
from app.auth.schemas import Role
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.migrations import upgrade

PG_HOST = os.environ.get("LIVENESS_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("LIVENESS_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("LIVENESS_TEST_PG_USER", "postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pg_url(dbname: str, driver: str = "postgresql+psycopg") -> str:
    return f"{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"


def _pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        dbname="postgres",
        autocommit=True,
        connect_timeout=3,
    )


def _pg_reachable() -> str | None:
    try:
        with _pg_admin():
            return None
    except psycopg.OperationalError as exc:
        return str(exc).strip().splitlines()[0]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    problem = _pg_reachable()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"PostgreSQL must be reachable in CI: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    name = f"liveness_tpl_{uuid.uuid4().hex[:10]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        upgrade(pg_url(name))
        yield name
    finally:
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_pg_database(template: str) -> str:
    name = f"liveness_t_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


def drop_pg_database(name: str) -> None:
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database(pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database (procrastinate's schema included), dropped after."""
    name = fresh_pg_database(pg_template)
    try:
        yield name
    finally:
        drop_pg_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "liveness.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    name = fresh_pg_database(request.getfixturevalue("pg_template"))
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        max_upload_bytes=256 * 1024,
        scheduler_enabled=False,
    )


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url)
    yield db
    await db.dispose()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@dataclass(frozen=True)
class Keys:
    """Plain keys of every role, plus keys scoped to region prefix 2201 (Changchun)."""

    admin: str
    operator: str
    viewer: str
    scoped_operator: str
    scoped_viewer: str

    @staticmethod
    def header(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def keys(database: Database) -> Keys:
    made: dict[str, str] = {}
    specs = {
        "admin": (Role.ADMIN, None),
        "operator": (Role.OPERATOR, None),
        "viewer": (Role.VIEWER, None),
        "scoped_operator": (Role.OPERATOR, "2201"),
        "scoped_viewer": (Role.VIEWER, "2201"),
    }
    async with database.write_session() as session:
        for name, (role, region) in specs.items():
            _row, plain = await auth_service.create_key(
                session, name=name, role=role, region_prefix=region
            )
            made[name] = plain
    return Keys(**made)
