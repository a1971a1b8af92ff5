"""Moving many accounts' checkpoint shares at once (app/reports/moves.py), as an import does.

A registry import that moves accounts between organisations, departments and regions, and
archives and restores some, holds the per-account trigger and moves every share in one
statement. The checkpoints must then equal ones worked out afresh from flag history, the
summaries read from them must equal flag history's, and the hold must be gone.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from app.accounts import service as accounts_service
from app.accounts.models import Account
from app.auth.schemas import Role
from app.auth.service import Principal
from app.db import Database
from app.egress import EgressGuard
from app.reports.models import report_checkpoint_hold
from app.reports.moves import moving_in_bulk
from tests.reports.registry import seed_registry
from tests.reports.test_checkpoints import (
    TAKEN,
    _assert_agrees_with_history,
    _checkpoint_rows,
    _take,
    checkpoint_rows_in,
)
from tests.reports.test_checkpoints import (
    database_url as database_url,  # SQLite only
)

ADMIN = Principal(key_id=None, name="test", role=Role.ADMIN, region_prefix=None)
FIELDS = ("platform", "handle", "name", "organization", "region_code", "region_name")
EDITS: dict[str, dict[str, Any]] = {
    "A1": {"organization": "南关区新机构"},
    "A3": {"department": "新部门", "organization": "新机构"},
    "A4": {"region_code": "110101", "region_name": "北京市东城区"},
    "A6": {"status": "archived"},
    "A7": {"status": "active", "department": "新部门"},
    "A5": {"region_name": "长春市宽城区（新）", "name": "renamed"},
    "A8": {"name": "only the name: no figure moves"},
}


# The seeded registry's WeChat and Douyin handles are not ones an import accepts.
VALID_HANDLES = {
    "A2": "MzA3MDM3NjE5NQ==",
    "A3": "MS4wLjABAAAAdemoGovPoliceAccount0000000000000000001",
}


async def _rows(database: Database, ids: dict[str, int]) -> list[dict[str, Any]]:
    """Import rows for every seeded account as it is, with EDITS applied."""
    names = {account_id: name for name, account_id in ids.items()}
    async with database.write_session() as session:
        connection = await session.connection()
        for name, handle in VALID_HANDLES.items():
            where = col(Account.id) == ids[name]
            await connection.execute(sa.update(Account).where(where).values(handle=handle))
    async with database.read_session() as session:
        accounts = (await session.exec(select(Account).order_by(col(Account.id)))).all()
    rows = []
    for account in accounts:
        assert account.id is not None
        row = {field: getattr(account, field) for field in FIELDS}
        row |= {"department": account.department, "status": account.status}
        rows.append(row | EDITS.get(names[account.id], {}))
    return rows


async def _held(database: Database) -> int:
    async with database.read_session() as session:
        return await _held_in(await session.connection())


async def test_an_import_moves_the_shares_in_bulk(database: Database) -> None:
    ids = await seed_registry(database)
    await _take(database, TAKEN)
    before = await _checkpoint_rows(database)
    async with database.write_session() as session:
        outcomes = await accounts_service.upsert_accounts(
            session, await _rows(database, ids), ADMIN, egress=EgressGuard()
        )
    assert [o.errors for o in outcomes if o.status == "error"] == []
    assert [o.status for o in outcomes].count("updated") == len(EDITS)
    kept = await _checkpoint_rows(database)
    assert kept != before, "the import moved nothing"
    assert await _held(database) == 0
    assert await _assert_agrees_with_history(database) >= 10
    await _take(database, TAKEN)  # worked out again from flag history
    assert kept == await _checkpoint_rows(database)


async def test_a_dry_run_holds_nothing_and_moves_nothing(database: Database) -> None:
    ids = await seed_registry(database)
    await _take(database, TAKEN)
    before = await _checkpoint_rows(database)
    async with database.write_session() as session:
        await accounts_service.upsert_accounts(
            session, await _rows(database, ids), ADMIN, egress=EgressGuard(), dry_run=True
        )
    assert await _checkpoint_rows(database) == before
    assert await _held(database) == 0


async def test_while_held_the_trigger_leaves_the_checkpoints(database: Database) -> None:
    """So the bulk statement is what moved them above, once, not the trigger as well."""
    ids = await seed_registry(database)
    await _take(database, TAKEN)
    before = await _checkpoint_rows(database)
    async with database.write_session() as session:
        connection = await session.connection()
        await connection.execute(sa.insert(report_checkpoint_hold).values(held=1))
        await connection.execute(
            sa.update(Account).where(col(Account.id) == ids["A4"]).values(region_code="110101")
        )
        assert await checkpoint_rows_in(connection) == before
        await connection.execute(sa.delete(report_checkpoint_hold))


async def test_no_checkpoints_no_hold(database: Database) -> None:
    await seed_registry(database)
    async with database.write_session() as session, moving_in_bulk(session) as bulk:
        assert not bulk.held
        assert await _held_in(await session.connection()) == 0


async def _held_in(connection: AsyncConnection) -> int:
    return int(
        await connection.scalar(sa.select(sa.func.count()).select_from(report_checkpoint_hold)) or 0
    )
