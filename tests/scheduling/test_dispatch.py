"""Claiming due accounts with leases, on SQLite and PostgreSQL, with ``now`` passed in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from app.accounts.models import Account
from app.db import Database
from app.scheduling import dispatch

NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


async def _seed(database: Database, count: int, **fields: object) -> list[int]:
    async with database.write_session() as session:
        accounts = [
            Account(
                platform="weibo",
                handle=str(3_000_000_000 + n),
                name=f"a{n}",
                region_code="220102",
                **fields,
            )
            for n in range(count)
        ]
        session.add_all(accounts)
        await session.flush()
        return [a.id for a in accounts if a.id is not None]


async def _claim(database: Database, now: datetime, limit: int = 100) -> list[dispatch.Claim]:
    async with database.write_session() as session:
        return await dispatch.claim_due(session, now=now, limit=limit, lease_s=300)


async def test_claims_due_accounts_once_until_the_lease_expires(database: Database) -> None:
    ids = await _seed(database, 5)
    first = await _claim(database, NOW)
    assert sorted(c.account_id for c in first) == sorted(ids)
    assert len({c.lease_token for c in first}) == 1
    assert await _claim(database, NOW + timedelta(seconds=299)) == []
    again = await _claim(database, NOW + timedelta(seconds=301))
    assert sorted(c.account_id for c in again) == sorted(ids)
    assert again[0].lease_token != first[0].lease_token


async def test_most_overdue_first_and_batch_limit(database: Database) -> None:
    ids = await _seed(database, 4)
    async with database.write_session() as session:
        for offset, account_id in zip((30, 10, 20, -5), ids, strict=True):
            account = await session.get(Account, account_id)
            assert account is not None
            account.next_check_at = NOW - timedelta(minutes=offset)
            session.add(account)
    claimed = await _claim(database, NOW, limit=2)
    assert sorted(c.account_id for c in claimed) == sorted([ids[0], ids[2]])
    rest = await _claim(database, NOW, limit=10)
    assert [c.account_id for c in rest] == [ids[1]]  # ids[3] is not due for 5 minutes


async def test_archived_accounts_are_never_claimed(database: Database) -> None:
    await _seed(database, 2, status="archived")
    assert await _claim(database, NOW) == []


async def test_concurrent_claims_never_share_an_account(database: Database) -> None:
    await _seed(database, 200)
    batches = await asyncio.gather(*(_claim(database, NOW, limit=30) for _ in range(10)))
    claimed = [c.account_id for batch in batches for c in batch]
    assert len(claimed) == 200 and len(set(claimed)) == 200


async def test_overdue_counts_and_heartbeat(database: Database) -> None:
    await _seed(database, 3)
    async with database.read_session() as session:
        assert await dispatch.count_overdue(session, NOW) == {"weibo": 3}
        assert await dispatch.last_tick(session) is None
    await _claim(database, NOW, limit=1)
    async with database.write_session() as session:
        await dispatch.record_tick(session, "s1", NOW, 1)
    async with database.read_session() as session:
        assert await dispatch.count_overdue(session, NOW) == {"weibo": 2}
        assert await dispatch.last_tick(session) == NOW
    rows = None
    async with database.read_session() as session:
        rows = (await session.exec(select(col(Account.lease_token)))).all()
    assert sum(1 for r in rows if r) == 1
