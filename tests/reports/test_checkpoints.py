"""Checkpoints of the summary counters (report_checkpoint) against flag history.

A summary read from the nearest checkpoint, corrected for the accounts changed in between,
must give the figures flag history gives, at every instant of the registry's month, after
the registry is edited under the checkpoints (moves, renames, archive, restore, a delete):
the triggers move each edited account's share of every checkpoint. And the checkpoints so
kept must equal ones worked out again from scratch.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from app.accounts.models import Account
from app.db import Database
from app.flags.models import Flag
from app.reports import checkpoints, past, service
from app.reports.models import report_checkpoint, report_checkpoint_time
from app.reports.past import summary_at
from tests.reports.registry import day, seed_registry
from tests.reports.test_tally import GROUPINGS, _figures

TAKEN = [day(5), day(10, 12), day(15), day(20), day(25)]
INSTANTS = [day(d, h) for d in range(1, 31) for h in (0, 12)] + [
    t + timedelta(microseconds=m) for t in TAKEN for m in (-1, 1)
]


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: PostgreSQL keeps no counters."""
    path = tmp_path / "liveness.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


async def _take(database: Database, times: list[datetime]) -> None:
    for at in times:
        async with database.write_session() as session:
            await checkpoints.take(session, at)


async def checkpoint_rows_in(connection: AsyncConnection) -> list[tuple[object, ...]]:
    """Every checkpoint row, sorted. Rows a move emptied stay behind with zeros; a fresh
    checkpoint has none, so they are left out."""
    found = await connection.execute(
        sa.select(report_checkpoint).where(report_checkpoint.c.total != 0)
    )
    return sorted(tuple(row) for row in found)


async def _checkpoint_rows(database: Database) -> list[tuple[object, ...]]:
    async with database.read_session() as session:
        return await checkpoint_rows_in(await session.connection())


async def _edit(database: Database, ids: dict[str, int]) -> None:
    edits: list[tuple[str, dict[str, object]]] = [
        ("A1", {"organization": "南关区新机构"}),
        ("A3", {"department": "新部门", "platform": "wechat"}),
        ("A4", {"region_code": "110101", "region_name": "北京市东城区"}),
        ("A6", {"status": "archived"}),
        ("A7", {"status": "active"}),
        ("A5", {"region_name": "长春市宽城区（新）", "name": "renamed"}),
    ]
    for name, values in edits:
        async with database.write_session() as session:
            account = await session.get(Account, ids[name])
            assert account is not None
            for column, value in values.items():
                setattr(account, column, value)
    async with database.write_session() as session:  # flags go with it (cascade)
        connection = await session.connection()
        await connection.execute(sa.delete(Account).where(col(Account.id) == ids["A2"]))


async def _assert_agrees_with_history(database: Database) -> int:
    """Every grouping and scope at every instant; returns how many read a checkpoint."""
    from_checkpoints = 0
    for at in INSTANTS:
        async with database.read_session() as session:
            connection = await session.connection()
            _plan, params, _bound = await past._nearest_base(connection, "region", at, None)
        from_checkpoints += "base" in params
        for group_by in GROUPINGS:
            for scope in (None, "2201", "110101"):
                corrected = await summary_at(database.read_session, group_by, at, scope)
                assert corrected is not None, "a handful of accounts changed"
                history = await service.summary(
                    database.read_session, group_by, at, scope_prefix=scope
                )
                assert _figures(*corrected) == _figures(*history), (group_by, at, scope)
    return from_checkpoints


async def test_checkpoints_give_the_figures_of_flag_history(database: Database) -> None:
    await seed_registry(database)
    await _take(database, TAKEN)
    assert await _assert_agrees_with_history(database) >= len(INSTANTS) // 2


async def test_edits_under_the_checkpoints_move_their_shares(database: Database) -> None:
    ids = await seed_registry(database)
    await _take(database, TAKEN)
    before = await _checkpoint_rows(database)
    await _edit(database, ids)
    kept = await _checkpoint_rows(database)
    assert kept != before, "the edits moved nothing"
    assert await _assert_agrees_with_history(database) >= len(INSTANTS) // 2
    await _take(database, TAKEN)  # worked out again from flag history
    assert kept == await _checkpoint_rows(database)


async def test_two_flags_of_one_code_open_at_once_count_once(database: Database) -> None:
    # History a back-dated import can leave: A4's zombie open since 03-01 (F4), and another
    # zombie flag 03-03 to 03-12, with a second unreachable flag on A2 alongside F2.
    ids = await seed_registry(database)
    async with database.write_session() as session:
        for name, code, platform in (("A4", "zombie", "weibo"), ("A2", "unreachable", "wechat")):
            session.add(
                Flag(
                    account_id=ids[name],
                    platform=platform,
                    code=code,
                    state="resolved",
                    veto=code == "unreachable",
                    rule="days=90",
                    source="back-dated",
                    opened_at=day(3),
                    resolved_at=day(12),
                    evidence="{}",
                )
            )
    await _take(database, TAKEN)
    assert await _assert_agrees_with_history(database) >= len(INSTANTS) // 2
    # On 03-09: zombie on A4 (two flags) and A6, unreachable on A2 (two flags).
    _groups, totals = await service.summary(
        database.read_session, "region", day(9), scope_prefix=None
    )
    assert (totals.flags["zombie"], totals.flags["unreachable"]) == (2, 1)


async def test_an_edit_that_moves_no_figure_leaves_the_checkpoints(database: Database) -> None:
    ids = await seed_registry(database)
    await _take(database, TAKEN)
    before = await _checkpoint_rows(database)
    async with database.write_session() as session:
        account = await session.get(Account, ids["A1"])
        assert account is not None
        account.name, account.tags = "no figure moves", "x"
    assert await _checkpoint_rows(database) == before


def test_due_times_are_china_midnights_daily_then_weekly() -> None:
    now = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)  # 12:00 in China, a Wednesday
    due = checkpoints.due_times(now)
    china = [t.astimezone(checkpoints.CHINA) for t in due]
    assert due == sorted(due, reverse=True)
    assert due[0] == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # 2026-12-02 00:00 in China
    assert all((c.hour, c.minute, c.second, c.microsecond) == (0, 0, 0, 0) for c in china)
    daily = [t for t in due if now - t <= timedelta(days=checkpoints.DAILY_DAYS, hours=12)]
    assert len(daily) == checkpoints.DAILY_DAYS + 1
    older = [c for t, c in zip(due, china, strict=True) if t not in daily]
    assert older and all(c.weekday() == 0 or c.day == 1 for c in older)
    assert {c.month for c in older if c.day == 1} == set(range(1, 13))  # every month end
    assert now - due[-1] <= timedelta(days=checkpoints.WEEKLY_DAYS, hours=1)
    # Half an hour after midnight in China: that midnight waits for the margin.
    early = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)
    assert checkpoints.due_times(early)[0] == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)


async def test_maintain_takes_the_newest_missing_first_and_drops_the_expired(
    database: Database,
) -> None:
    await seed_registry(database)
    now = datetime(2026, 4, 1, 12, tzinfo=UTC)
    due = checkpoints.due_times(now)
    await _take(database, [datetime(2024, 1, 1, tzinfo=UTC)])  # long expired

    async def times() -> list[datetime]:
        async with database.read_session() as session:
            connection = await session.connection()
            found = await connection.execute(sa.select(report_checkpoint_time.c.taken_at))
            return sorted(found.scalars(), reverse=True)

    assert await checkpoints.maintain(database, now, limit=3) == 3
    assert await times() == due[:3]
    assert await checkpoints.maintain(database, now, limit=2) == 2
    assert await times() == due[:5]
    assert await checkpoints.maintain(database, now, limit=1000) == len(due) - 5
    assert await times() == due
    assert await checkpoints.maintain(database, now) == 0
    assert await checkpoints.maintain(database, now, limit=4, retake=True) == 4
    assert await times() == due
