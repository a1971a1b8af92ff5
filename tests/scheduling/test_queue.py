"""The procrastinate executor, task and reaper: in memory where the queue's SQL does not
matter, on PostgreSQL where it does (queueing locks, re-pointing, stalled workers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import procrastinate
import pytest
from procrastinate.testing import InMemoryConnector
from sqlmodel import select
from typer.testing import CliRunner

from app.checks.models import CheckResult
from app.cli import app as cli_app
from app.config import Settings, get_settings
from app.db import Database, utcnow
from app.scheduling import dispatch
from app.scheduling.dispatch import Claim
from app.scheduling.queue import (
    TASK_NAME,
    ProcrastinateExecutor,
    conninfo,
    make_app,
    reap_stalled_jobs,
    worker_runtime,
)
from app.scheduling.scaled import parse_platforms
from monitors import PLATFORMS
from tests.conftest import drop_pg_database, fresh_pg_database, pg_url
from tests.support import register_population, running_simulator


def _claim(account_id: int, platform: str = "weibo", token: str = "t1") -> Claim:  # noqa: S107
    return Claim(account_id=account_id, platform=platform, lease_token=token)


async def test_each_claim_goes_to_its_platform_queue_with_an_account_lock() -> None:
    connector = InMemoryConnector()
    settings = Settings(_env_file=None, database_url="postgresql://x@127.0.0.1/x", claim_batch=7)
    executor = ProcrastinateExecutor(make_app(settings, connector=connector), settings)
    assert executor.capacity() == 7
    await executor.submit([_claim(1, "weibo"), _claim(2, "douyin"), _claim(3, "weibo")])
    jobs = sorted(connector.jobs.values(), key=lambda job: job["args"]["account_id"])
    assert [(j["queue_name"], j["queueing_lock"], j["task_name"]) for j in jobs] == [
        ("checks.weibo", "account:1", TASK_NAME),
        ("checks.douyin", "account:2", TASK_NAME),
        ("checks.weibo", "account:3", TASK_NAME),
    ]
    assert jobs[0]["args"] == {"account_id": 1, "lease_token": "t1"}
    assert executor.deferred == 3


def test_conninfo_is_libpq_and_keeps_the_password() -> None:
    url = "postgresql+psycopg://liveness:p%40ss@db.internal:6432/liveness"
    assert conninfo(url) == "postgresql://liveness:p%40ss@db.internal:6432/liveness"
    with pytest.raises(ValueError, match="PostgreSQL"):
        conninfo("sqlite+aiosqlite:///x.db")


def test_queues_option_is_validated() -> None:
    assert parse_platforms(None, PLATFORMS) == PLATFORMS
    assert parse_platforms(" weibo, Douyin ,weibo", PLATFORMS) == ("weibo", "douyin")
    with pytest.raises(ValueError, match="unknown platform tiktok"):
        parse_platforms("weibo,tiktok", PLATFORMS)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("command", [["scheduler"], ["worker", "--queues", "weibo"]])
def test_scaled_commands_refuse_sqlite(
    command: list[str], cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVENESS_DATABASE_URL", "sqlite:///liveness.db")
    result = CliRunner().invoke(cli_app, command)
    assert result.exit_code == 2
    assert "needs PostgreSQL" in result.output


def test_worker_refuses_an_unknown_platform(cli_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVENESS_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(cli_app, ["worker", "--queues", "weibo,myspace"])
    assert result.exit_code == 2
    assert "unknown platform myspace" in result.output


# --- on PostgreSQL: the queue's own SQL ------------------------------------------------------


@pytest.fixture
def pg_settings(pg_template: str) -> Iterator[Settings]:
    name = fresh_pg_database(pg_template)
    try:
        yield Settings(_env_file=None, database_url=pg_url(name), lease_s=60)
    finally:
        drop_pg_database(name)


@pytest.fixture
async def queue_app(pg_settings: Settings) -> AsyncIterator[procrastinate.App]:
    app = make_app(pg_settings)
    async with app.open_async():
        yield app


async def _jobs(app: procrastinate.App) -> list[dict[str, object]]:
    rows = await app.connector.execute_query_all_async(
        "SELECT id, status, queueing_lock, args, worker_id FROM procrastinate_jobs ORDER BY id"
    )
    return list(rows)


@pytest.mark.pg
async def test_a_new_lease_repoints_the_waiting_job_instead_of_queueing_twice(
    queue_app: procrastinate.App, pg_settings: Settings
) -> None:
    executor = ProcrastinateExecutor(queue_app, pg_settings)
    await executor.submit([_claim(1, token="old"), _claim(2, token="old")])
    await executor.submit([_claim(1, token="new"), _claim(3, token="new")])
    jobs = await _jobs(queue_app)
    assert [(j["queueing_lock"], j["args"]["lease_token"]) for j in jobs] == [  # type: ignore[index]
        ("account:1", "new"),
        ("account:2", "old"),
        ("account:3", "new"),
    ]
    assert executor.repointed == 1 and executor.deferred == 3


@pytest.mark.pg
async def test_a_job_stuck_in_doing_does_not_block_the_next_claim_and_is_reaped(
    queue_app: procrastinate.App, pg_settings: Settings
) -> None:
    executor = ProcrastinateExecutor(queue_app, pg_settings)
    await executor.submit([_claim(1, token="first")])
    # A worker took the job, then died: its heartbeat is long gone.
    await queue_app.connector.execute_query_async(
        "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '1 hour')"
    )
    await queue_app.connector.execute_query_async(
        "UPDATE procrastinate_jobs SET status = 'doing', "
        "worker_id = (SELECT max(id) FROM procrastinate_workers)"
    )
    await executor.submit([_claim(1, token="second")])
    assert [j["status"] for j in await _jobs(queue_app)] == ["doing", "todo"]

    assert await reap_stalled_jobs(queue_app) == 1
    jobs = await _jobs(queue_app)
    assert [(j["status"], j["args"]["lease_token"]) for j in jobs] == [("todo", "second")]  # type: ignore[index]


@pytest.mark.pg
async def test_a_worker_runs_the_queued_checks_and_deletes_the_jobs(
    pg_settings: Settings,
) -> None:
    with running_simulator(30, 5) as (url, simulator):
        settings = pg_settings.model_copy(update={"simulator_url": url})
        database = Database(settings.database_url)
        try:
            ids = await register_population(database, simulator.state.population, url)
            async with database.write_session() as session:
                claims = await dispatch.claim_due(session, now=utcnow(), limit=100, lease_s=60)
            app = make_app(settings)
            async with worker_runtime(settings), app.open_async():
                await ProcrastinateExecutor(app, settings).submit(claims)
                await app.run_worker_async(wait=False, concurrency=10, listen_notify=False)
                assert await _jobs(app) == []
            async with database.read_session() as session:
                checked = (await session.exec(select(CheckResult.account_id))).all()
        finally:
            await database.dispose()
    assert len(claims) == len(ids) == 30
    assert sorted(checked) == sorted(ids)
