"""The per-group counters SQLite's triggers keep (report_tally) against the accounts themselves.

Every kind of write to ``account`` that moves a summary figure: insert, a flag opening and
resolving (the open-flag mirror), a first check, a move to another region, organisation,
department or platform, a region renamed, archive and restore, a raw SQL update and a delete.
After each, the summary read from the counters must equal the one aggregated from the
accounts, for every grouping and for a region-scoped key.
"""

from __future__ import annotations

import random
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col

from app.accounts.models import Account
from app.db import Database, utcnow
from app.reports import past, service
from app.reports.current import summary_as_of, summary_now
from app.reports.models import report_tally
from app.reports.past import summary_at
from app.reports.service import GroupCounts
from tests.reports.registry import T1, T2, day, seed_registry

GROUPINGS = ("region", "organization", "department", "platform")


def _figures(groups: list[GroupCounts], totals: GroupCounts) -> list[tuple[object, ...]]:
    return [
        (g.key, g.name, g.total, g.checked, g.passing, g.pass_rate, sorted(g.flags.items()))
        for g in [*groups, totals]
    ]


async def assert_tally_agrees(database: Database) -> None:
    for group_by in GROUPINGS:
        for scope in (None, "2201", "110101"):
            counted = await summary_now(database.read_session, group_by, scope, tally=True)
            scanned = await summary_now(database.read_session, group_by, scope, tally=False)
            assert _figures(*counted) == _figures(*scanned), (group_by, scope)


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: PostgreSQL keeps no counters (tests/reports/test_summary.py checks that)."""
    path = tmp_path / "liveness.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def sqlite_only(database: Database) -> Database:
    assert database.is_sqlite
    return database


async def test_triggers_exist_at_head(sqlite_only: Database) -> None:
    async with sqlite_only.read_session() as session:
        connection = await session.connection()
        found = await connection.execute(
            sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        )
        names = [row[0] for row in found]
    checkpoint = [f"tr_account_checkpoint_{e}" for e in ("delete", "update")]
    tally = [f"tr_account_tally_{e}" for e in ("delete", "insert", "update")]
    assert names == checkpoint + tally


async def test_counters_follow_every_kind_of_write(sqlite_only: Database) -> None:
    database = sqlite_only
    ids = await seed_registry(database)
    await assert_tally_agrees(database)
    async with database.read_session() as session:
        rows = (await (await session.connection()).execute(sa.select(report_tally))).all()
    assert rows, "seeding the registry filled no counters"

    async def change(account_key: str, **values: object) -> None:
        async with database.write_session() as session:
            account = await session.get(Account, ids[account_key])
            assert account is not None
            for name, value in values.items():
                setattr(account, name, value)
        await assert_tally_agrees(database)

    # Each tracked column alone: the update trigger fires only for the columns it names.
    await change("A8", first_checked_at=utcnow())  # first check
    await change("A3", open_flags=0b101)  # flags open
    await change("A3", veto_open=True)
    await change("A3", open_flags=0b100, veto_open=False)  # one resolves
    await change("A1", organization="南关区新机构")  # moves
    await change("A1", department="新部门")
    await change("A1", region_code="110101")
    await change("A2", platform="douyin")
    await change("A4", region_name="长春市宽城区（新）")  # renamed
    await change("A4", region_name="")
    await change("A6", status="archived")
    await change("A7", status="active")
    await change("A5", name="no figure moves", tags="x")  # untracked columns only
    async with database.write_session() as session:
        connection = await session.connection()
        await connection.execute(sa.text("UPDATE account SET open_flags = 8, veto_open = 1"))
    await assert_tally_agrees(database)
    async with database.write_session() as session:
        connection = await session.connection()
        await connection.execute(sa.delete(Account).where(col(Account.id) == ids["A2"]))
    await assert_tally_agrees(database)


async def test_random_writes_keep_the_counters(sqlite_only: Database) -> None:
    database = sqlite_only
    ids = list((await seed_registry(database)).values())
    rng = random.Random(20261202)
    regions = [("220102", "长春市南关区"), ("220103", "长春市宽城区"), ("110101", "北京市东城区")]
    for _ in range(60):
        async with database.write_session() as session:
            account = await session.get(Account, rng.choice(ids))
            assert account is not None
            account.open_flags = rng.randrange(256)
            account.veto_open = rng.random() < 0.5
            account.status = rng.choice(["active", "active", "archived"])
            account.organization = rng.choice(["甲", "乙", "丙"])
            account.department = rng.choice(["一", "二"])
            account.platform = rng.choice(["weibo", "wechat", "douyin"])
            account.region_code, account.region_name = rng.choice(regions)
            account.first_checked_at = rng.choice([None, utcnow()])
    await assert_tally_agrees(database)


@pytest.mark.parametrize("group_by", GROUPINGS)
async def test_recent_time_points_agree_with_flag_history(
    sqlite_only: Database, group_by: str
) -> None:
    """The counters with the accounts changed since ``at`` taken back give the figures flag
    history gives, at every day of the registry's month, on the instants flags open and
    resolve, and for region-scoped keys."""
    database = sqlite_only
    await seed_registry(database)
    async with database.write_session() as session:  # registered late, never checked
        late = day(22)
        session.add(
            Account(platform="weibo", handle="1000000099", name="late", organization="南关区政府",
                    region_code="220102", region_name="长春市南关区", department="办公室",
                    status="active", created_at=late, updated_at=late)
        )  # fmt: skip
    instants = [day(d, h) for d in range(1, 31) for h in (0, 12)]
    instants += [T1 - timedelta(microseconds=1), T2 + timedelta(microseconds=1)]
    for at in instants:
        for scope in (None, "2201", "110101"):
            corrected = await summary_at(database.read_session, group_by, at, scope)
            assert corrected is not None, "a handful of accounts changed"
            history = await service.summary(database.read_session, group_by, at, scope_prefix=scope)
            assert _figures(*corrected) == _figures(*history), (at, scope)


async def test_many_changes_fall_back_to_flag_history(
    sqlite_only: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_registry(database := sqlite_only)
    assert await summary_at(database.read_session, "region", T1, None) is not None
    monkeypatch.setattr(past, "MAX_CHANGED", 2)
    assert await summary_at(database.read_session, "region", T1, None) is None
    figures = await summary_as_of(
        database.read_session, "region", T1, scope_prefix=None, tally=True
    )
    history = await service.summary(database.read_session, "region", T1, scope_prefix=None)
    assert _figures(*figures) == _figures(*history)
