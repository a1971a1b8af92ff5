"""The embedded executor: claimed checks run as asyncio tasks in this process.

A global semaphore bounds checks in flight and, per platform, the runner's semaphore bounds
concurrency; the runner's client paces every request with the platform's token bucket. The
scheduler claims only what fits (``capacity``), so leases are not held by checks that cannot
start yet.
"""

from __future__ import annotations

import asyncio
import logging

from app.checks.pipeline import CheckRunner, load_account, observe_loaded, store_observed
from app.db import unwritable_reason
from app.scheduling.dispatch import Claim

__all__ = ["InlineExecutor"]

logger = logging.getLogger(__name__)


class InlineExecutor:
    """Runs claims in this process under the global and per-platform limits."""

    def __init__(self, runner: CheckRunner) -> None:
        settings = runner.settings
        self.runner = runner
        self.max_in_flight = settings.max_concurrency
        self._global = asyncio.Semaphore(settings.max_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._observing = 0  # claims not yet observed: waiting for a slot, or in one
        self.completed = 0

    def capacity(self) -> int:
        """How many more claims can be taken now: twice the concurrency, minus the claims not
        yet observed. Checks waiting for their batched write do not count (they need no slot,
        and a slow write would otherwise idle the slots until the next claim), up to a bound
        of eight times the concurrency held in all."""
        waiting = 2 * self.max_in_flight - self._observing
        return max(0, min(waiting, 8 * self.max_in_flight - len(self._tasks)))

    async def submit(self, claims: list[Claim]) -> None:
        """Start a task per claim; returns at once."""
        for claim in claims:
            task = asyncio.create_task(self._run(claim), name=f"check-{claim.account_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, claim: Claim) -> None:
        observed = None
        self._observing += 1
        try:
            # The slots bound upstream requests: the batched read before them and the batched
            # write after them wait outside, so other checks' requests go on meanwhile.
            account = await load_account(
                self.runner, claim.account_id, lease_token=claim.lease_token
            )
            if account is not None:
                async with self._global, self.runner.limits.semaphore(claim.platform):
                    observed = await observe_loaded(self.runner, account, claim.lease_token)
        except Exception:  # the lease expires and the account is retried
            logger.exception("check of account %s failed", claim.account_id)
        finally:
            self._observing -= 1
        try:
            if observed is not None:
                await store_observed(self.runner, observed)
        except Exception as exc:  # the lease expires and the account is retried
            reason = unwritable_reason(exc)
            if reason is None:
                logger.exception("storing the check of account %s failed", claim.account_id)
            else:
                logger.warning("check of account %s not stored: %s", claim.account_id, reason)
        self.completed += 1

    @property
    def in_flight(self) -> int:
        """Claims taken and not yet finished."""
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait for every running check (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel running checks; their leases expire and they are retried elsewhere."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        # Checks already observed are written in batches by the runner: finish those writes.
        await self.runner.flush()
