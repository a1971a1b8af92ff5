"""The inline executor's claim budget: checks waiting for their batched write hold no claim."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from app.checks.pipeline import CheckRunner
from app.config import Settings
from app.db import Database
from app.scheduling import inline
from app.scheduling.dispatch import Claim


async def test_observed_checks_waiting_for_their_write_free_the_claim_budget(
    monkeypatch: pytest.MonkeyPatch, database: Database, settings: Settings
) -> None:
    write_done = asyncio.Event()
    observing = asyncio.Event()

    async def load(runner: Any, account_id: int, *, lease_token: str | None) -> object:
        return object()

    async def observe(runner: Any, account: object, lease_token: str | None) -> object:
        await observing.wait()
        return object()

    async def store(runner: Any, observed: object) -> None:
        await write_done.wait()  # a slow batched write

    monkeypatch.setattr(inline, "load_account", load)
    monkeypatch.setattr(inline, "observe_loaded", observe)
    monkeypatch.setattr(inline, "store_observed", store)
    async with httpx.AsyncClient() as client:
        runner = CheckRunner(
            database=database,
            client=client,
            settings=settings.model_copy(update={"max_concurrency": 5}),
        )
        executor = inline.InlineExecutor(runner)
        assert executor.capacity() == 10

        def claims(n: int, start: int = 0) -> list[Claim]:
            return [Claim(start + i, "weibo", "t") for i in range(n)]

        await executor.submit(claims(10))
        await asyncio.sleep(0)
        assert executor.capacity() == 0  # ten claims not yet observed: 5 in slots, 5 waiting
        observing.set()
        for _ in range(20):
            await asyncio.sleep(0)
        # All ten observed and waiting for the write: the budget is whole again...
        assert executor.in_flight == 10 and executor.capacity() == 10
        await executor.submit(claims(30, start=10))
        for _ in range(20):
            await asyncio.sleep(0)
        # ...up to eight times the concurrency held in all.
        assert executor.in_flight == 40 and executor.capacity() == 0
        write_done.set()
        await executor.drain()
        assert executor.completed == 40 and executor.capacity() == 10
