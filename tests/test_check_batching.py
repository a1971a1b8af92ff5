"""Batched reads and writes of checks, and the transports under the shared HTTP client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence

import httpx
import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from app.checks.batching import BatchLoader, BatchWriter
from app.checks.transport import AiohttpTransport
from app.db import Database
from tests.support import running_simulator


async def test_concurrent_writes_share_transactions_and_a_bad_item_fails_alone(
    database: Database,
) -> None:
    batches: list[list[int]] = []

    async def apply(session: AsyncSession, items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        if 13 in items:
            raise ValueError("bad item")
        return [item * 2 for item in items]

    writer: BatchWriter[int, int] = BatchWriter(database, apply)
    results = await asyncio.gather(*(writer.submit(n) for n in range(20)), return_exceptions=True)
    assert results[:13] == [n * 2 for n in range(13)]
    assert isinstance(results[13], ValueError)
    assert results[14:] == [n * 2 for n in range(14, 20)]
    assert len(batches[0]) == 20  # all twenty went into the first transaction
    assert [b for b in batches[1:] if len(b) > 1] == []  # then retried one by one


async def test_loader_reads_waiting_keys_with_one_call() -> None:
    calls: list[list[int]] = []

    async def load_many(keys: list[int]) -> dict[int, str]:
        calls.append(keys)
        return {key: str(key) for key in keys if key != 3}

    loader: BatchLoader[int, str] = BatchLoader(load_many)
    values = await asyncio.gather(*(loader.load(n) for n in (1, 2, 3, 2)))
    assert values == ["1", "2", None, "2"]
    assert calls == [[1, 2, 3]]


async def test_the_transport_sends_requests_and_maps_errors() -> None:
    def make() -> httpx.AsyncBaseTransport:
        return AiohttpTransport(max_connections=4)

    with running_simulator(10, 1) as (url, _app):
        async with httpx.AsyncClient(transport=make(), timeout=5) as client:
            answers = await asyncio.gather(*(client.get(f"{url}/healthz") for _ in range(30)))
            assert {(r.status_code, r.text) for r in answers} == {(200, "ok")}
            missing = await client.get(f"{url}/no-such-route", params={"q": "中文"})
            assert missing.status_code == 404
            assert missing.request.url.params["q"] == "中文"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    async with httpx.AsyncClient(transport=make(), timeout=5) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{closed_port}/")


def test_the_transport_refuses_nonsense_sizes() -> None:
    with pytest.raises(ValueError, match="positive"):
        AiohttpTransport(max_connections=0)
