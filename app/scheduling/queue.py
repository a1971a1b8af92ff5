"""Scaled mode: one scheduler claims due accounts and defers them to procrastinate workers.

procrastinate keeps its queue in the same PostgreSQL database, so there is no broker to run.
Each platform has its own queue (``checks.<platform>``), so a worker can serve only the
platforms its egress IP may reach. Every job carries a queueing lock ``account:<id>``, so an
account is never waiting in the queue twice.

Who owns a check, and what happens when a worker dies
------------------------------------------------------
The account's lease (``lease_token``, ``lease_until`` in the account table) is the single
source of truth, not the job. A job carries the lease token it was deferred for, and
``run_check`` stores nothing unless the account is still leased to that token, so a job that
outlived its lease is harmless.

- A worker killed mid-check leaves its jobs in procrastinate's ``doing`` state forever; they
  are never retried (procrastinate's stalled-job retry would re-run them with a token that may
  still be valid while the lost worker is merely slow, and two holders of one token could both
  store). Instead the lease expires, the scheduler claims the account again with a new token,
  and defers a new job: the queueing lock only covers ``todo`` jobs, so the stuck ``doing``
  job does not block it. The scheduler deletes the stuck jobs of workers whose heartbeat has
  stopped (``reap_stalled_jobs``), so the jobs table does not grow.
- If a job is still waiting (``todo``) when its lease expires (a backlog longer than the
  lease), the new claim's defer hits the queueing lock. Skipping it would leave a waiting job
  whose token no longer matches, and under a lasting backlog the account would starve; so the
  waiting job is re-pointed to the new token instead. If it started meanwhile, the defer is
  retried once; failing that the lease expires and the account is claimed again.
- Finished jobs are deleted at once (``delete_jobs="always"``): the check row is the record.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import procrastinate
from procrastinate import exceptions as pexc
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job, Status
from sqlalchemy.engine import make_url

from app.checks.pipeline import CheckRunner, make_http_client, run_check
from app.config import Settings
from app.db import Database
from app.scheduling.dispatch import Claim

__all__ = [
    "STALLED_WORKER_S",
    "TASK_NAME",
    "ProcrastinateExecutor",
    "conninfo",
    "make_app",
    "queue_for",
    "reap_stalled_jobs",
    "run_check_task",
    "worker_runtime",
]

logger = logging.getLogger(__name__)

TASK_NAME = "liveness:run_check_task"
QUEUE_PREFIX = "checks."
# procrastinate's defaults: a worker beats every 10 s and is presumed dead after 30 s.
HEARTBEAT_S = 10.0
STALLED_WORKER_S = 30.0

_REPOINT = """
UPDATE procrastinate_jobs
   SET args = jsonb_set(args, '{lease_token}', to_jsonb(%(lease_token)s::text))
 WHERE queueing_lock = %(queueing_lock)s AND status = 'todo'
RETURNING id
"""


def queue_for(platform: str) -> str:
    """The queue of one platform's checks."""
    return f"{QUEUE_PREFIX}{platform}"


def conninfo(database_url: str) -> str:
    """The libpq connection string for a ``postgresql+psycopg://`` URL."""
    url = make_url(database_url)
    if not url.drivername.startswith("postgresql"):
        raise ValueError("scaled mode needs PostgreSQL (LIVENESS_DATABASE_URL=postgresql://…)")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(
    settings: Settings,
    connector: procrastinate.BaseConnector | None = None,
    pool_size: int = 4,
) -> procrastinate.App:
    """A procrastinate App on the service's database, with the check task registered."""
    if connector is None:
        connector = procrastinate.PsycopgConnector(
            conninfo=conninfo(settings.database_url), min_size=1, max_size=pool_size
        )
    app = procrastinate.App(
        connector=connector,
        worker_defaults={
            "delete_jobs": "always",
            "update_heartbeat_interval": HEARTBEAT_S,
            "stalled_worker_timeout": STALLED_WORKER_S,
        },
    )
    # Registered per App (a Blueprint can be bound to one App only, tests make several).
    app.task(name=TASK_NAME, pass_context=True)(run_check_task)
    return app


@dataclass(slots=True)
class WorkerRuntime:
    """What a worker process shares between its jobs: one runner, with its per-platform
    limits."""

    runner: CheckRunner


_runtime: WorkerRuntime | None = None


@asynccontextmanager
async def worker_runtime(settings: Settings) -> AsyncIterator[WorkerRuntime]:
    """Create the worker's database, HTTP client and limits once, for every job it runs."""
    global _runtime
    database = Database(settings.database_url)
    client = make_http_client(settings)
    runtime = WorkerRuntime(runner=CheckRunner(database=database, client=client, settings=settings))
    _runtime = runtime
    try:
        yield runtime
    finally:
        _runtime = None
        await client.aclose()
        await database.dispose()


async def run_check_task(context: JobContext, account_id: int, lease_token: str) -> None:
    """Check one claimed account under this worker's per-platform limits."""
    if _runtime is None:
        raise RuntimeError("run_check_task runs only inside worker_runtime()")
    platform = context.job.queue.removeprefix(QUEUE_PREFIX)
    async with _runtime.runner.limits.semaphore(platform):  # the client paces the requests
        await run_check(_runtime.runner, account_id, lease_token=lease_token)


class ProcrastinateExecutor:
    """Defers each claim to its platform's queue; the workers run the checks."""

    def __init__(self, app: procrastinate.App, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.deferred = 0
        self.repointed = 0

    def capacity(self) -> int:
        """A full batch every tick: the queue absorbs it and leases bound how long it waits."""
        return self.settings.claim_batch

    async def submit(self, claims: list[Claim]) -> None:
        """Defer every claim, one batch per platform; lock clashes are handled one by one."""
        by_platform: dict[str, list[Claim]] = defaultdict(list)
        for claim in claims:
            by_platform[claim.platform].append(claim)
        for _platform, group in sorted(by_platform.items()):
            jobs = [self._job(claim) for claim in group]
            try:
                await self.app.job_manager.batch_defer_jobs_async(jobs=jobs)
                self.deferred += len(jobs)
            except pexc.AlreadyEnqueued:  # the whole batch rolled back; retry singly
                for claim in group:
                    await self._defer_one(claim)

    def _job(self, claim: Claim) -> Job:
        deferrer = self.app.configure_task(
            TASK_NAME, queue=queue_for(claim.platform), queueing_lock=_lock(claim)
        )
        return deferrer.make_new_job(account_id=claim.account_id, lease_token=claim.lease_token)

    async def _defer_one(self, claim: Claim) -> None:
        for _attempt in range(2):
            try:
                await self.app.job_manager.defer_job_async(job=self._job(claim))
                self.deferred += 1
                return
            except pexc.AlreadyEnqueued:
                rows = await self.app.connector.execute_query_all_async(
                    query=_REPOINT, lease_token=claim.lease_token, queueing_lock=_lock(claim)
                )
                if rows:
                    self.repointed += 1
                    return
        logger.warning("account %s stays queued under an old lease", claim.account_id)


def _lock(claim: Claim) -> str:
    return f"account:{claim.account_id}"


async def reap_stalled_jobs(
    app: procrastinate.App, seconds_since_heartbeat: float = STALLED_WORKER_S
) -> int:
    """Delete the ``doing`` check jobs of workers that stopped beating (killed, lost).

    Their accounts are not lost: the leases expire and the scheduler claims them again.
    """
    await app.job_manager.prune_stalled_workers(seconds_since_heartbeat)
    stalled = await app.job_manager.get_stalled_jobs(
        task_name=TASK_NAME, seconds_since_heartbeat=seconds_since_heartbeat
    )
    reaped = 0
    for job in stalled:
        assert job.id is not None
        try:
            await app.job_manager.finish_job_by_id_async(job.id, Status.FAILED, delete_job=True)
            reaped += 1
        except pexc.ConnectorException:  # it finished after all, or another reaper won
            continue
    return reaped
