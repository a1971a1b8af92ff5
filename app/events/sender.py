"""The webhook sender: a scheduler job that fans out new events and sends due deliveries.

Each attempt is claimed (leased) in one short transaction, sent without holding any
transaction, and recorded in another; a process killed mid-send leaves a lease that simply
expires, and the attempt is made again (the same ``webhook-id``, so receivers can dedupe).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime

import httpx

from app import __version__
from app.checks.transport import AiohttpTransport
from app.config import Settings
from app.db import Database, utcnow
from app.egress import EgressGuard
from app.events import delivery
from app.events.delivery import Job, Outcome
from app.events.signing import signature_header
from app.metrics.process import record_delivery
from monitors.http import EgressRefused

__all__ = ["Deliverer", "make_webhook_client", "send"]

logger = logging.getLogger(__name__)
ERROR_BODY_BYTES = 200


def make_webhook_client(settings: Settings) -> httpx.AsyncClient:
    """The deliveries' own client: never follows redirects (a 3xx is a failure), times out
    after ``webhook_timeout_s``, and connects through the egress guard (app/egress.py), which
    refuses private targets at connect time unless ``webhook_allow_private``."""
    transport = AiohttpTransport(
        max_connections=settings.webhook_concurrency, guard=EgressGuard.for_webhooks(settings)
    )
    return httpx.AsyncClient(
        follow_redirects=False,
        timeout=httpx.Timeout(settings.webhook_timeout_s),
        transport=transport,
        headers={"user-agent": f"liveness-webhooks/{__version__}"},
    )


async def send(client: httpx.AsyncClient, job: Job, *, now: datetime) -> Outcome:
    """Make one attempt: sign, POST, and classify the answer. The client's egress guard
    refuses a blocked target before connecting, whatever its name resolves to now."""
    timestamp = int(now.timestamp())
    headers = {
        "content-type": "application/json",
        "webhook-id": job.msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(list(job.secrets), job.msg_id, timestamp, job.body),
    }
    try:
        async with client.stream("POST", job.url, content=job.body, headers=headers) as response:
            code = response.status_code
            if 200 <= code < 300:
                return Outcome(code, None)
            snippet = b""
            async for chunk in response.aiter_bytes():
                snippet += chunk
                if len(snippet) >= ERROR_BODY_BYTES:
                    break
            detail = snippet[:ERROR_BODY_BYTES].decode("utf-8", "replace").strip()
            if 300 <= code < 400:
                where = response.headers.get("location", "?")
                error = f"HTTP {code}: redirect to {where} not followed"
            else:
                error = f"HTTP {code}" + (f": {detail}" if detail else "")
            retry_after = delivery.parse_retry_after(response.headers.get("retry-after"), now)
            return Outcome(code, error, retry_after)
    except EgressRefused as exc:
        return Outcome(None, f"blocked: {exc}")
    except httpx.TimeoutException:
        return Outcome(None, f"timed out after {client.timeout.read:g} s")
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


class Deliverer:
    """Sends due deliveries with at most ``webhook_concurrency`` in flight."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        client: httpx.AsyncClient | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.client = client or make_webhook_client(settings)
        self.rng = rng or random.Random()
        self._in_flight: set[asyncio.Task[None]] = set()
        # One writer at a time in this process: concurrent BEGIN IMMEDIATEs on SQLite would
        # wait in SQLite's busy handler (which sleeps), cutting throughput by half or more.
        self._write_lock = asyncio.Lock()
        self._outcomes: list[tuple[Job, Outcome, datetime]] = []

    async def fan_out(self, now: datetime) -> int:
        """Hand every new outbox event to its endpoints; returns deliveries created."""
        created = 0
        while True:
            async with self.database.write_session(queued=True) as session:
                events, rows = await delivery.fan_out(session, now=now)
            created += rows
            if events < 500:
                return created

    async def tick(self, now: datetime | None = None, *, wait: bool = False) -> int:
        """Fan out, then keep every slot busy until nothing more is due. With ``wait`` (tests,
        bench), return only when every attempt started has been recorded; ``now`` fixes the
        time of every step. Returns the attempts started."""
        await self.fan_out(now or self.clock())
        started = 0
        while True:
            free = self.settings.webhook_concurrency - len(self._in_flight)
            jobs: list[Job] = []
            if free > 0:
                async with self._write_lock, self.database.write_session(queued=True) as session:
                    jobs = await delivery.claim_due(
                        session,
                        now=now or self.clock(),
                        limit=free,
                        lease_s=self.settings.webhook_lease_s,
                    )
            for job in jobs:
                task = asyncio.create_task(self._attempt(job, now))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
            started += len(jobs)
            if free > 0 and len(jobs) < free:
                break
            # Claim again once half the slots are free: one claim per few deliveries, not each.
            refill = self.settings.webhook_concurrency - max(
                1, self.settings.webhook_concurrency // 2
            )
            while len(self._in_flight) > refill:
                await asyncio.wait(list(self._in_flight), return_when=asyncio.FIRST_COMPLETED)
        if wait and self._in_flight:
            await asyncio.wait(list(self._in_flight))
        return started

    async def drain(self, now: datetime | None = None) -> int:
        """Tick until nothing is due at ``now`` (tests and bench); returns attempts made."""
        total = 0
        while made := await self.tick(now, wait=True):
            total += made
        return total

    async def _attempt(self, job: Job, fixed_now: datetime | None) -> None:
        now = fixed_now or self.clock()
        try:
            outcome = await send(self.client, job, now=now)
        except Exception as exc:  # never lose the attempt: it is recorded as a failure
            logger.exception("webhook delivery %d failed unexpectedly", job.delivery_id)
            outcome = Outcome(None, f"internal error: {type(exc).__name__}")
        if not outcome.ok:
            logger.info(
                "webhook delivery %d to endpoint %d failed: %s",
                job.delivery_id,
                job.endpoint_id,
                outcome.error,
            )
        self._outcomes.append((job, outcome, fixed_now or self.clock()))
        await self._record_outcomes()

    async def _record_outcomes(self) -> None:
        # Group commit: whoever gets the lock writes every outcome waiting by then.
        async with self._write_lock:
            batch, self._outcomes = self._outcomes, []
            if not batch:
                return
            try:
                async with self.database.write_session(queued=True) as session:
                    statuses = [
                        await delivery.record(
                            session,
                            job,
                            outcome,
                            now=at,
                            window_s=self.settings.webhook_retry_window_s,
                            rng=self.rng,
                        )
                        for job, outcome, at in batch
                    ]
            except Exception:  # the leases expire and the attempts are made again
                logger.exception("recording %d webhook deliveries failed", len(batch))
                return
            for status in statuses:  # counted once committed, so a retried batch counts once
                record_delivery(status)

    async def aclose(self, grace_s: float = 5.0) -> None:
        """Let attempts in flight finish (up to ``grace_s``), then close the client."""
        if self._in_flight:
            _done, pending = await asyncio.wait(list(self._in_flight), timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.client.aclose()
