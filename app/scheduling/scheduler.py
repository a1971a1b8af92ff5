"""The few fixed APScheduler jobs (DESIGN §9): claim due accounts, canaries, retention,
webhook delivery.

APScheduler 3.11 only decides *when to look*; the schedule itself lives in the account table,
and the claim is idempotent, so a second scheduler started by mistake does no harm.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from app.checks import service as checks_service
from app.checks.pipeline import CheckRunner
from app.config import Settings
from app.db import unwritable_reason
from app.events.sender import Deliverer
from app.scheduling import dispatch
from app.scheduling.canaries import run_canaries
from app.scheduling.dispatch import Claim

__all__ = ["Executor", "Scheduler", "canary_interval_s", "default_name"]

logger = logging.getLogger(__name__)


class Executor(Protocol):
    """Where claimed checks go: run inline, or deferred to workers."""

    def capacity(self) -> int:
        """How many claims it can take now."""
        ...

    async def submit(self, claims: list[Claim]) -> None:
        """Take the claims; must not wait for the checks themselves."""
        ...


def canary_interval_s(settings: Settings) -> float:
    """How often the canaries run: at least hourly, and at least twice per gone confirmation
    delay, so a verdict falls between an account's first gone answer and the check that
    confirms it (the unreachable rule waits for one); never more than every 5 s."""
    return max(5.0, min(settings.check_interval_s, settings.gone_confirm_delay_s / 2, 3600))


def default_name() -> str:
    """A stable scheduler identity: host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Scheduler:
    """Claims due accounts on a fixed tick and hands them to an executor."""

    def __init__(self, runner: CheckRunner, executor: Executor, name: str | None = None) -> None:
        self.runner = runner
        self.executor = executor
        self.name = name or default_name()
        self._aps: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[object]] = set()
        self._deliverer: Deliverer | None = None
        self._stopping = False

    async def tick(self, now: datetime | None = None) -> int:
        """Claim what the executor can take, hand it over, and record the heartbeat."""
        settings = self.runner.settings
        now = now or self.runner.clock()
        limit = min(settings.claim_batch, self.executor.capacity())
        async with self.runner.database.write_session(queued=True) as session:
            claims = await dispatch.claim_due(
                session, now=now, limit=limit, lease_s=settings.lease_s
            )
            await dispatch.record_tick(session, self.name, now, len(claims))
        if claims:
            await self.executor.submit(claims)
        return len(claims)

    async def purge_old_checks(self, now: datetime | None = None) -> int:
        """Delete check rows past the retention period, in batches; snapshots stay."""
        now = now or self.runner.clock()
        cutoff = now - timedelta(days=self.runner.settings.check_retention_days)
        deleted = 0
        while True:
            async with self.runner.database.write_session(queued=True) as session:
                batch = await checks_service.delete_older_than(session, cutoff)
            deleted += batch
            if batch == 0:
                return deleted

    async def canaries(self) -> None:
        """Check every platform's canaries and store the verdicts."""
        for verdict, changed in await run_canaries(self.runner):
            if changed:
                logger.warning(
                    "platform %s degraded=%s: %s",
                    verdict.platform,
                    verdict.degraded,
                    verdict.reason,
                )

    def start(self) -> None:
        """Start the jobs on the running event loop."""
        settings = self.runner.settings
        aps = AsyncIOScheduler(timezone="UTC")
        common = {"coalesce": True, "max_instances": 1, "replace_existing": True}
        aps.add_job(
            self._safe(self.tick),
            "interval",
            seconds=settings.claim_interval_s,
            id="claim",
            name="claim",
            next_run_time=self.runner.clock(),
            **common,
        )
        aps.add_job(
            self._safe(self.purge_old_checks),
            "interval",
            hours=1,
            id="retention",
            name="retention",
            **common,
        )
        if settings.canaries:
            aps.add_job(
                self._safe(self.canaries),
                "interval",
                seconds=canary_interval_s(settings),
                id="canaries",
                name="canaries",
                next_run_time=self.runner.clock(),
                **common,
            )
        # Webhooks: fan out new events and send due deliveries (state in the database).
        self._deliverer = Deliverer(self.runner.database, settings, clock=self.runner.clock)
        aps.add_job(
            self._safe(self._deliverer.tick),
            "interval",
            seconds=settings.webhook_interval_s,
            id="webhooks",
            name="webhooks",
            next_run_time=self.runner.clock(),
            **common,
        )
        aps.start()
        self._aps = aps

    def _safe(self, job: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                await job()
            except Exception as exc:  # a failed tick is retried on the next one
                name = getattr(job, "__name__", job)
                reason = unwritable_reason(exc)
                if reason is None:
                    logger.exception("scheduler job %s failed", name)
                else:  # an operations condition, once a tick: one line, no traceback
                    logger.warning(
                        "scheduler job %s: the database cannot be written: %s", name, reason
                    )
            except asyncio.CancelledError:
                if not self._stopping:
                    raise
                # Cancelled by shutdown() after its grace period: a stop, not a failure (what
                # the job held comes back when its lease expires). Re-raised, APScheduler would
                # log it as the job's exception.
                logger.info("scheduler job %s stopped at shutdown", getattr(job, "__name__", job))
            finally:
                if task is not None:
                    self._running.discard(task)

        return run

    async def shutdown(self, grace_s: float = 5.0) -> None:
        """Stop the jobs; a job still running gets ``grace_s`` to finish, then is cancelled."""
        self._stopping = True
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
        if self._running:
            _done, pending = await asyncio.wait(list(self._running), timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._deliverer is not None:
            await self._deliverer.aclose(grace_s)
            self._deliverer = None
