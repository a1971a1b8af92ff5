"""A full disk: writes answer 503 problem details, /readyz says so, the background writers
keep going, and everything recovers by itself once space returns (issue 16, point 7).

Each test runs on both databases, on a real tmpfs that fills up (where the machine lets a test
mount one) and on the injection of tests/full_disk.py, so both stay tested.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError
from sqlmodel import func, select

from app.accounts.models import Account
from app.audit.models import AuditLog
from app.auth import service as auth_service
from app.auth.models import ApiKey
from app.auth.schemas import Role
from app.checks.models import CheckResult
from app.checks.pipeline import run_check
from app.config import Settings
from app.db import DISK_FULL, Database, unwritable_reason, utcnow
from app.events.models import OutboxEvent
from app.events.sender import Deliverer
from app.main import create_app
from app.scheduling.dispatch import last_tick, record_tick
from tests.events.receiver import running_receiver
from tests.events.test_delivery import add_endpoint
from tests.full_disk import FullDisk, full_disk
from tests.support import register_population, running_simulator

_PG = pytest.mark.pg
WAIT_S = 30


@pytest.fixture(
    params=[
        ("sqlite", "filesystem"),
        ("sqlite", "injected"),
        pytest.param(("postgresql", "filesystem"), marks=_PG),
        pytest.param(("postgresql", "injected"), marks=_PG),
    ],
    ids=lambda p: "-".join(p),
)
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FullDisk]:
    backend, mode = request.param
    template = request.getfixturevalue("sqlite_template" if backend == "sqlite" else "pg_template")
    with full_disk(backend, mode, template, tmp_path) as made:
        yield made


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[str, Any]]:
    with running_simulator(40, 3) as running:
        yield running


@asynccontextmanager
async def _serving(
    disk: FullDisk, **settings: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    values: dict[str, Any] = {"scheduler_enabled": False, **settings}
    app = create_app(Settings(_env_file=None, database_url=disk.url, **values))
    async with app.router.lifespan_context(app):
        disk.attach(app.state.database)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, app


async def _operator_key(database: Database) -> dict[str, str]:
    async with database.write_session() as session:
        _row, plain = await auth_service.create_key(session, name="ops", role=Role.OPERATOR)
    return {"Authorization": f"Bearer {plain}"}


def _accounts(first: int, count: int) -> list[dict[str, str]]:
    return [
        {
            "platform": "weibo",
            "handle": str(1_000_000_000 + first + i),
            "name": f"长春市某某局政务微博账号第{first + i}号",
            "organization": "长春市人民政府办公厅",
            "region_code": "220102",
        }
        for i in range(count)
    ]


async def _count(database: Database, model: Any) -> int:
    async with database.read_session() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


def _assert_unwritable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["status"] == 503
    assert body["detail"].startswith(f"the database cannot be written: {DISK_FULL}")


async def test_writes_answer_503_while_the_disk_is_full_and_succeed_after(disk: FullDisk) -> None:
    async with _serving(disk) as (client, app):
        database: Database = app.state.database
        headers = await _operator_key(database)
        first = await client.post(
            "/api/v1/accounts:bulk", json={"items": _accounts(0, 5)}, headers=headers
        )
        assert first.status_code == 200, first.text
        before = {m: await _count(database, m) for m in (Account, AuditLog, OutboxEvent)}
        assert (await client.get("/readyz")).status_code == 200

        disk.fill()
        batch = {"items": _accounts(100, 80)}
        _assert_unwritable(await client.post("/api/v1/accounts:bulk", json=batch, headers=headers))
        listed = await client.get("/api/v1/accounts", headers=headers)
        assert listed.status_code == 200  # reads still work on a full disk
        assert len(listed.json()["items"]) == 5
        ready = await client.get("/readyz")
        _assert_unwritable(ready)
        _assert_unwritable(await client.get("/readyz"))  # the probe fails while still full
        # Nothing of the refused request was stored.
        assert {m: await _count(database, m) for m in before} == before

        disk.free()
        assert (await client.get("/readyz")).status_code == 200  # no other write needed
        again = await client.post("/api/v1/accounts:bulk", json=batch, headers=headers)
        assert again.status_code == 200, again.text
        assert again.json()["created"] == 80
        after = {m: await _count(database, m) for m in before}
        assert after[Account] == before[Account] + 80
        assert after[AuditLog] == before[AuditLog] + 1
        assert after[OutboxEvent] == before[OutboxEvent] + 80


async def test_a_key_whose_use_is_due_to_be_recorded_still_reads(disk: FullDisk) -> None:
    async with _serving(disk) as (client, app):
        headers = await _operator_key(app.state.database)  # never used: its last_used_at is due
        assert (await client.get("/readyz")).status_code == 200
        disk.fill()
        listed = await client.get("/api/v1/accounts", headers=headers)
        assert listed.status_code == 200, listed.text
        disk.free()
        assert (await client.get("/api/v1/accounts", headers=headers)).status_code == 200
        async with app.state.database.read_session() as session:
            used = (await session.exec(select(ApiKey.last_used_at))).all()
        assert used and all(at is not None for at in used)  # recorded once space returned


async def test_check_writer_and_webhook_sender_survive_and_resume(
    disk: FullDisk, simulator: tuple[str, Any]
) -> None:
    url, sim = simulator
    with running_receiver() as receiver:
        async with _serving(disk, simulator_url=url, webhook_allow_private=True) as (_client, app):
            database: Database = app.state.database
            ids = list(await register_population(database, sim.state.population, url))
            await add_endpoint(database, receiver.url, now=app.state.started_at)
            deliverer = Deliverer(database, app.state.settings)
            try:
                disk.fill()
                refused = await asyncio.gather(
                    *(run_check(app.state.runner, i) for i in ids), return_exceptions=True
                )
                failed = [r for r in refused if isinstance(r, Exception)]
                assert all(unwritable_reason(r) == DISK_FULL for r in failed), failed
                assert len(failed) == len(ids) or (disk.small_writes_fit and failed)
                with pytest.raises(Exception) as refusal:
                    await deliverer.tick(wait=True)
                assert unwritable_reason(refusal.value) == DISK_FULL
                stored_while_full = len(ids) - len(failed)
                assert await _count(database, CheckResult) == stored_while_full
                assert database.unwritable is not None

                disk.free()
                stored = await asyncio.gather(*(run_check(app.state.runner, i) for i in ids))
                assert all(row is not None for row in stored)
                assert await _count(database, CheckResult) == stored_while_full + len(ids)
                assert database.unwritable is None
                assert await deliverer.drain() > 0
            finally:
                await deliverer.aclose()
        assert receiver.received


async def test_the_scheduler_keeps_ticking_through_a_full_disk(
    disk: FullDisk, simulator: tuple[str, Any]
) -> None:
    url, sim = simulator
    seeding = Database(disk.url)
    try:
        ids = await register_population(seeding, sim.state.population, url)
    finally:
        await seeding.dispose()
    disk.fill()  # before the scheduler's first tick
    settings = {"scheduler_enabled": True, "simulator_url": url, "claim_interval_s": 0.2}
    async with _serving(disk, **settings) as (client, app):
        database: Database = app.state.database
        # A process that opens the database on a full disk cannot even read it on SQLite
        # (the WAL index cannot grow): readiness says why all the same.
        _assert_unwritable(await _wait_for(client, 503))

        disk.free()
        for _ in range(int(WAIT_S / 0.2)):
            async with database.read_session() as session:
                ticked = await last_tick(session)
            if ticked is not None and await _count(database, CheckResult) >= len(ids):
                break
            await asyncio.sleep(0.2)
        assert ticked is not None, "the scheduler never ticked after space returned"
        assert await _count(database, CheckResult) >= len(ids)
        assert (await _wait_for(client, 200)).json()["status"] == "ok"


async def test_readiness_names_the_disk_when_another_process_cannot_write(
    disk: FullDisk,
) -> None:
    # Scaled mode: the scheduler is another process, which this one sees only by its ticks.
    settings = {"executor": "procrastinate", "scheduler_enabled": True, "claim_interval_s": 0.1}
    async with _serving(disk, **settings) as (client, app):
        database: Database = app.state.database
        async with database.write_session() as session:
            await record_tick(session, "elsewhere", utcnow(), 0)
        disk.fill()
        _assert_unwritable(await _wait_for(client, 503))  # not "the scheduler has not ticked"
        disk.free()
        stalled = await client.get("/readyz")
        assert stalled.status_code == 503
        assert stalled.json()["detail"].startswith("the scheduler has not ticked since")
        async with database.write_session() as session:
            await record_tick(session, "elsewhere", utcnow(), 0)
        assert (await client.get("/readyz")).status_code == 200


async def _wait_for(client: httpx.AsyncClient, status: int) -> httpx.Response:
    for _ in range(int(WAIT_S / 0.1)):
        response = await client.get("/readyz")
        if response.status_code == status:
            return response
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz did not answer {status}: {response.text}")


def _sqlite_error(code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("from SQLite")
    error.sqlite_errorcode = code
    return error


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (_sqlite_error(13), DISK_FULL),  # SQLITE_FULL
        (_sqlite_error(10 | (19 << 8)), DISK_FULL),  # SQLITE_IOERR_SHMSIZE
        (_sqlite_error(10 | (3 << 8)), None),  # SQLITE_IOERR_WRITE: a real I/O error
        (_sqlite_error(19), None),  # SQLITE_CONSTRAINT
        (psycopg.errors.DiskFull(), DISK_FULL),
        (
            psycopg.errors.TooManyConnections(),
            "the database server is out of resources (SQLSTATE 53300)",
        ),
        (psycopg.errors.UniqueViolation(), None),
        (ValueError("disk is full"), None),
    ],
)
def test_what_counts_as_unwritable(error: Exception, reason: str | None) -> None:
    wrapped = OperationalError("INSERT …", {}, error)
    assert unwritable_reason(wrapped) == reason
    assert unwritable_reason(error) == reason
    try:
        raise RuntimeError("while storing a batch") from wrapped
    except RuntimeError as outer:
        assert unwritable_reason(outer) == reason
