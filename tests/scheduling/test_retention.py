"""Old check rows are deleted by the retention job; snapshots stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
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
