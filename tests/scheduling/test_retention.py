"""Old check rows are deleted by the retention job; snapshots stay."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import col, select

from app.accounts.models import Account
from app.checks.models import CheckResult
from app.checks.pipeline import CheckRunner
from app.config import Settings
from app.db import Database
from app.scheduling.inline import InlineExecutor
from app.scheduling.scheduler import Scheduler

NOW = datetime(2026, 11, 1, tzinfo=UTC)


async def test_retention_deletes_only_old_checks(database: Database, settings: Settings) -> None:
    async with database.write_session() as session:
        account = Account(
            platform="weibo",
            handle="1234567890",
            name="x",
            region_code="220102",
            last_outcome="ok",
            last_post_at=NOW - timedelta(days=200),
        )
        session.add(account)
        await session.flush()
        assert account.id is not None
        for days in (200, 120, 91, 89, 1):
            session.add(
                CheckResult(
                    account_id=account.id,
                    platform="weibo",
                    checked_at=NOW - timedelta(days=days),
                    outcome="ok",
                    outcome_class="alive",
                )
            )
    async with httpx.AsyncClient() as client:
        runner = CheckRunner(
            database=database,
            client=client,
            settings=settings.model_copy(update={"check_retention_days": 90}),
        )
        scheduler = Scheduler(runner, InlineExecutor(runner), name="t")
        assert await scheduler.purge_old_checks(NOW) == 3
        assert await scheduler.purge_old_checks(NOW) == 0
    async with database.read_session() as session:
        left = (await session.exec(select(func.count()).select_from(CheckResult))).one()
        kept = await session.get(Account, account.id)
        oldest = (await session.exec(select(func.min(col(CheckResult.checked_at))))).one()
    assert left == 2 and oldest == NOW - timedelta(days=89)
    assert kept is not None and kept.last_post_at == NOW - timedelta(days=200)


async def test_a_job_cancelled_at_shutdown_is_a_stop_not_a_failure(
    database: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A job still running after shutdown's grace period is cancelled without an error line
    (APScheduler logs an exception a job raises, CancelledError included)."""
    started = asyncio.Event()

    async def stuck() -> None:
        started.set()
        await asyncio.Event().wait()  # e.g. waiting for the SQLite writer turn

    async with httpx.AsyncClient() as client:
        runner = CheckRunner(database=database, client=client, settings=settings)
        scheduler = Scheduler(runner, InlineExecutor(runner), name="t")
        job = asyncio.create_task(scheduler._safe(stuck)())
        await started.wait()
        with caplog.at_level(logging.INFO):
            await scheduler.shutdown(grace_s=0.05)
        assert job.done() and not job.cancelled() and job.exception() is None
        assert "stopped at shutdown" in caplog.text
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

        # Outside shutdown a cancellation is still a cancellation.
        other = Scheduler(runner, InlineExecutor(runner), name="u")
        started.clear()
        running = asyncio.create_task(other._safe(stuck)())
        await started.wait()
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
