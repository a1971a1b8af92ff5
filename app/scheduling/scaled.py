"""The two processes of scaled mode: ``liveness scheduler`` and ``liveness worker``.

The scheduler is the embedded one (claims, canaries, retention) with a procrastinate
executor, plus a reaper for the jobs of dead workers. Workers run procrastinate's worker on
the queues of the platforms they serve. Both stop cleanly on SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import procrastinate

from app.checks.pipeline import CheckRunner, make_http_client
from app.config import Settings
from app.db import Database
from app.runtime import startup_objects_frozen
from app.scheduling.queue import (
    STALLED_WORKER_S,
    ProcrastinateExecutor,
    make_app,
    queue_for,
    reap_stalled_jobs,
    worker_runtime,
)
from app.scheduling.scheduler import Scheduler

__all__ = ["configure_logging", "parse_platforms", "serve_scheduler", "serve_worker"]

logger = logging.getLogger(__name__)


def configure_logging(settings: Settings) -> None:
    """Log to stderr at the configured level; procrastinate's per-job lines only on debug."""
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("procrastinate").setLevel(max(level, logging.WARNING))


def parse_platforms(value: str | None, known: tuple[str, ...]) -> tuple[str, ...]:
    """The platforms of ``--queues weibo,douyin`` (all of ``known`` when omitted)."""
    if value is None or not value.strip():
        return known
    chosen = tuple(dict.fromkeys(p.strip().lower() for p in value.split(",") if p.strip()))
    unknown = [p for p in chosen if p not in known]
    if unknown:
        raise ValueError(f"unknown platform {', '.join(unknown)}; choose from {', '.join(known)}")
    return chosen


async def serve_scheduler(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Claim due accounts and defer them until ``stop`` is set (or SIGINT/SIGTERM)."""
    configure_logging(settings)
    stop = stop or _stop_on_signals()
    database = Database(settings.database_url)
    client = make_http_client(settings)
    app = make_app(settings)
    try:
        async with app.open_async():
            runner = CheckRunner(database=database, client=client, settings=settings)
            scheduler = Scheduler(runner, ProcrastinateExecutor(app, settings))
            scheduler.start()
            reaper = asyncio.create_task(_reap_forever(app, settings), name="reaper")
            try:
                with startup_objects_frozen():
                    await stop.wait()
            finally:
                await scheduler.shutdown()
                reaper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reaper
    finally:
        await client.aclose()
        await database.dispose()


async def _reap_forever(app: procrastinate.App, settings: Settings) -> None:
    # Often enough that dead workers' jobs go within a lease; never busier than every 5 s.
    every = max(5.0, min(float(settings.lease_s), STALLED_WORKER_S))
    while True:
        await asyncio.sleep(every)
        try:
            reaped = await reap_stalled_jobs(app)
        except Exception:  # the next pass retries
            logger.exception("reaping stalled jobs failed")
            continue
        if reaped:
            logger.warning("deleted %d check jobs of workers that stopped", reaped)


async def serve_worker(settings: Settings, platforms: tuple[str, ...], concurrency: int) -> None:
    """Run checks from the queues of ``platforms`` until SIGINT/SIGTERM."""
    configure_logging(settings)
    # Jobs in flight, the fetch loop, LISTEN and the heartbeat each want a connection.
    app = make_app(settings, pool_size=concurrency + 4)
    async with worker_runtime(settings), app.open_async():
        with startup_objects_frozen():
            await app.run_worker_async(
                queues=[queue_for(p) for p in platforms],
                concurrency=concurrency,
                install_signal_handlers=True,
            )


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
