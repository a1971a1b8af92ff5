"""run_check: observe one account and store what was seen, the glue of DESIGN §3.

The HTTP call happens between two short transactions, never inside one: a read to load the
account, then one write that stores the check, updates the snapshot and the schedule, and
releases the lease. A claim whose lease was taken over meanwhile stores nothing, so no
account is checked twice for one due time. Under load, concurrent checks share those reads and
writes (app/checks/batching.py): one query loads many accounts, one transaction stores many
checks, which is what lets one process store hundreds of checks a second on SQLite.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

import httpx
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

import monitors
from app.accounts.models import Account
from app.audit.service import record
from app.auth.service import Principal
from app.checks import service
from app.checks.batching import BatchLoader, BatchWriter
from app.checks.models import CheckResult
from app.checks.transport import AiohttpTransport, UpstreamClient
from app.config import Settings
from app.db import Database, utcnow
from app.egress import EgressGuard
from app.flags.evaluation import evaluate_accounts
from app.flags.policy import Policy, load_policy
from app.metrics.process import record_check
from app.scheduling.limits import PlatformLimits
from app.scheduling.policy import Cadence, next_due
from monitors import Monitor, MonitorConfig, Observation, Outcome
from monitors.http import EGRESS_REFUSED

__all__ = [
    "CheckRunner",
    "Observed",
    "check_now",
    "load_account",
    "make_http_client",
    "observe_account",
    "observe_loaded",
    "run_check",
    "store_observed",
]

logger = logging.getLogger(__name__)


def make_http_client(settings: Settings, *, trusted: Iterable[str] = ()) -> httpx.AsyncClient:
    """The shared upstream client: timeouts and connection limits from settings; every request
    passes the egress guard (app/egress.py), with the simulator, the operator's trusted
    upstreams and ``trusted`` (a base URL given on the command line) exempt. It keeps no
    cookies (UpstreamClient)."""
    guard = EgressGuard.for_monitors(settings, extra_trusted=trusted)
    return UpstreamClient(
        timeout=httpx.Timeout(settings.http_timeout_s, connect=min(10.0, settings.http_timeout_s)),
        transport=AiohttpTransport(max_connections=settings.http_max_connections, guard=guard),
    )


# The platform an observation is for, while its adapter sends: the client's request hook
# paces each request (redirect hops included) with that platform's token bucket.
_SENDING_FOR: ContextVar[str | None] = ContextVar("liveness_sending_for", default=None)


@dataclass(slots=True)
class CheckRunner:
    """What a check needs: the database, one HTTP client, adapters (kept, as they cache
    visitor cookies and interface codes), settings and a clock.

    Every observation goes through ``observe``, whoever asks (the inline executor, a worker,
    check-now, the canaries), so the per-platform request rate (``LIVENESS_PLATFORM_RATES``)
    is kept here, on the client, for all of them: one bucket per platform per process.
    """

    database: Database
    client: httpx.AsyncClient
    settings: Settings
    clock: Callable[[], datetime] = utcnow
    monitor_config: MonitorConfig | None = None
    _monitors: dict[str, Monitor] = field(default_factory=dict)
    _rng: random.Random = field(default_factory=random.Random)
    _batching: _Batching | None = None
    _limits: PlatformLimits | None = None

    def __post_init__(self) -> None:
        # One runner per client (each process makes one of each): a second runner on the
        # same client would pace its requests twice.
        self.client.event_hooks["request"].append(self._pace)

    @property
    def limits(self) -> PlatformLimits:
        """The per-platform concurrency caps and request buckets of this process."""
        if self._limits is None:
            self._limits = PlatformLimits(self.settings.concurrency_for, self.settings.rate_for)
        return self._limits

    async def _pace(self, request: httpx.Request) -> None:
        platform = _SENDING_FOR.get()
        if platform is not None:
            await self.limits.bucket(platform).acquire()

    def budget_wait_s(self, platform: str) -> int:
        """Whole seconds until ``platform``'s request budget allows a request (0: now)."""
        return math.ceil(self.limits.bucket(platform).wait_s())

    def _batches(self) -> _Batching:
        # Their futures belong to one event loop: a runner reused on another loop gets new ones.
        loop = asyncio.get_running_loop()
        if self._batching is None or self._batching.loop is not loop:
            self._batching = _Batching(
                loop,
                BatchLoader(partial(_load_accounts, self.database)),
                BatchWriter(self.database, partial(_store, self)),
            )
        return self._batching

    async def flush(self) -> None:
        """Finish the reads and writes already started (call before disposing the database)."""
        if self._batching is not None and self._batching.loop is asyncio.get_running_loop():
            await self._batching.loader.flush()
            await self._batching.writer.flush()

    def loader(self) -> BatchLoader[int, Account]:
        """Where checks read their accounts: concurrent reads share one query."""
        return self._batches().loader

    def writer(self) -> BatchWriter[Observed, CheckResult | None]:
        """Where finished checks are stored: concurrent checks share one transaction."""
        return self._batches().writer

    @property
    def policy(self) -> Policy:
        """The flag policy (LIVENESS_POLICY), loaded once."""
        return load_policy(self.settings.policy)

    def monitor(self, platform: str) -> Monitor:
        """The adapter for ``platform``, created once per runner."""
        if platform not in self._monitors:
            config = self.monitor_config or self.settings.monitor_config()
            self._monitors[platform] = monitors.get(platform, config)
        return self._monitors[platform]

    def cadence(self, account: Account) -> Cadence:
        """The timing rules for ``account`` (its own interval overrides the platform's)."""
        return Cadence(
            interval_s=account.check_interval_s or self.settings.interval_for(account.platform),
            jitter=self.settings.check_jitter,
            gone_confirm_delay_s=self.settings.gone_confirm_delay_s,
            unknown_backoff_s=self.settings.unknown_backoff_s,
        )

    async def observe(self, platform: str, handle: str) -> Observation:
        """Observe one handle; nothing an adapter does can escape as an exception."""
        sending = _SENDING_FOR.set(platform)
        try:
            return await self.monitor(platform).observe(handle, self.client)
        except Exception as exc:  # a bug or a malformed stored handle must not stop the loop
            logger.exception("observe failed for %s account", platform)
            return Observation(
                platform=platform,
                handle=handle,
                outcome=Outcome.ERROR,
                observed_at=self.clock(),
                error=f"internal error: {type(exc).__name__}",
            )
        finally:
            _SENDING_FOR.reset(sending)


async def run_check(
    runner: CheckRunner, account_id: int, *, lease_token: str | None = None
) -> CheckResult | None:
    """Check one account now and store the result.

    With a ``lease_token`` (a scheduled check) the account must still be leased to that
    token, before and after the HTTP call; otherwise nothing is stored and None is returned.
    Without one (check-now from the API) the account is checked whatever its lease.
    """
    observed = await observe_account(runner, account_id, lease_token=lease_token)
    return None if observed is None else await store_observed(runner, observed)


async def check_now(
    runner: CheckRunner, account_id: int, principal: Principal
) -> CheckResult | None:
    """Check one account now for ``principal`` (check-now), stored and audited."""
    row = await run_check(runner, account_id)
    if row is not None:
        async with runner.database.write_session() as session:
            detail = {"outcome": row.outcome}
            record(session, principal, "account.check", f"account:{account_id}", detail)
    return row


async def observe_account(
    runner: CheckRunner, account_id: int, *, lease_token: str | None = None
) -> Observed | None:
    """The first half of ``run_check``: load the account and observe it (the HTTP part).
    None: nothing to store."""
    account = await load_account(runner, account_id, lease_token=lease_token)
    return None if account is None else await observe_loaded(runner, account, lease_token)


async def load_account(
    runner: CheckRunner, account_id: int, *, lease_token: str | None = None
) -> Account | None:
    """The account to check, or None: gone, leased to someone else, or no longer active
    (then its lease is released). The inline executor loads before taking a concurrency slot,
    so a slot is held only while requests are in flight."""
    account = await runner.loader().load(account_id)
    if account is None or (lease_token is not None and account.lease_token != lease_token):
        return None
    if lease_token is not None and account.status != "active":
        await _release(runner, account_id, lease_token)
        return None
    return account


async def observe_loaded(
    runner: CheckRunner, account: Account, lease_token: str | None
) -> Observed:
    """Observe a loaded account. The inline executor frees its slot after this, so the next
    check's requests start while this one waits for its batched write."""
    assert account.id is not None
    started = time.perf_counter()
    observation = await runner.observe(account.platform, account.handle)
    record_check(account.platform, observation.outcome, time.perf_counter() - started)
    return Observed(account.id, lease_token, observation)


async def store_observed(runner: CheckRunner, observed: Observed) -> CheckResult | None:
    """The second half of ``run_check``: store the observation in the next batched write."""
    return await runner.writer().submit(observed)


@dataclass(frozen=True, slots=True)
class _Batching:
    loop: asyncio.AbstractEventLoop
    loader: BatchLoader[int, Account]
    writer: BatchWriter[Observed, CheckResult | None]


async def _load_accounts(database: Database, ids: list[int]) -> dict[int, Account]:
    async with database.read_session() as session:
        found = await session.exec(select(Account).where(col(Account.id).in_(ids)))
        return {account.id: account for account in found.all() if account.id is not None}


@dataclass(frozen=True, slots=True)
class Observed:
    """An observation waiting to be stored, with the lease it was made under."""

    account_id: int
    lease_token: str | None
    observation: Observation


async def _store(
    runner: CheckRunner, session: AsyncSession, items: Sequence[Observed]
) -> list[CheckResult | None]:
    """Store each observation and reschedule its account, in one transaction for all.

    An account whose lease was taken over meanwhile gets nothing stored (None). Items for the
    same account are applied in order, as separate transactions would be.
    """
    ids = sorted({item.account_id for item in items})
    loaded = await session.exec(select(Account).where(col(Account.id).in_(ids)))
    accounts = {account.id: account for account in loaded.all()}
    kept: list[tuple[int, Account, Observation]] = []  # (position in items, ...)
    for position, item in enumerate(items):
        account = accounts.get(item.account_id)
        if account is not None and (
            item.lease_token is None or account.lease_token == item.lease_token
        ):
            kept.append((position, account, item.observation))
    # The outcome before each check, in order: items for one account apply one after another.
    previous: list[str | None] = []
    latest: dict[int, str | None] = {}
    for _, account, observation in kept:
        assert account.id is not None
        previous.append(latest.get(account.id, account.last_outcome))
        latest[account.id] = observation.outcome.value
    stored = await service.record_observations(session, [(a, obs) for _, a, obs in kept])
    rows: list[CheckResult | None] = [None] * len(items)
    for (position, account, observation), before, row in zip(kept, previous, stored, strict=True):
        rows[position] = row
        streak = account.unknown_streak + 1 if observation.outcome.is_unknown else 0
        account.unknown_streak = streak
        account.next_check_at = next_due(
            outcome=observation.outcome,
            previous_outcome=before,
            unknown_streak=streak,
            retry_after_s=observation.evidence.retry_after_s,
            refused=observation.evidence.marker == EGRESS_REFUSED,
            cadence=runner.cadence(account),
            now=runner.clock(),
            rng=runner._rng,
        )
        account.lease_until = None
        account.lease_token = None
    await session.flush()
    # Flags change in the same transaction as the checks that decided them (DESIGN §3).
    await evaluate_accounts(
        session, [account for _, account, _ in kept], runner.policy, runner.clock()
    )
    return rows


async def _release(runner: CheckRunner, account_id: int, lease_token: str) -> None:
    async with runner.database.write_session() as session:
        account = await session.get(Account, account_id)
        if account is not None and account.lease_token == lease_token:
            account.lease_until = None
            account.lease_token = None
            session.add(account)
