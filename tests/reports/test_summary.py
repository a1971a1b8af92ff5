"""The summary report against figures worked out by hand (see registry.py), on both databases."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from app.accounts.models import Account
from app.db import Database, utcnow
from app.flags import service as flags_service
from app.flags.policy import FLAG_BITS, FLAG_LABELS, FlagRule
from app.flags.rules import Decision
from tests.conftest import Keys
from tests.reports.registry import T1, T2, seed_registry

ZERO = dict.fromkeys(FLAG_LABELS, 0)


def counts(**nonzero: int) -> dict[str, int]:
    return {**ZERO, **nonzero}


def row(key: str | None, name: str | None, total: int, checked: int, passing: int,
        rate: float | None, **flags: int) -> dict[str, Any]:  # fmt: skip
    return {
        "key": key,
        "name": name,
        "total": total,
        "checked": checked,
        "passing": passing,
        "pass_rate": rate,
        "flags": counts(**flags),
    }


async def summary(client: httpx.AsyncClient, key: str, **params: str) -> dict[str, Any]:
    response = await client.get("/api/v1/reports/summary", params=params, headers=Keys.header(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_by_region_at_two_time_points(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    await seed_registry(database)

    # T1: A5 not yet registered, A3 not yet checked, A8 never; A7 archived. Open: F1 (A1
    # stale), F2 + F3 (A2 unreachable + stale), F4 (A4 zombie); F9 resolved exactly at T1.
    at_t1 = await summary(client, keys.viewer, group_by="region", at=T1.isoformat())
    assert at_t1["groups"] == [
        row("110101", "北京市东城区", 1, 1, 1, 1.0),
        row("220102", "长春市南关区", 4, 2, 0, 0.0, stale=2, unreachable=1),
        row("220103", "长春市宽城区", 1, 1, 1, 1.0, zombie=1),
    ]
    assert at_t1["totals"] == row(None, None, 6, 4, 2, 0.5, stale=2, unreachable=1, zombie=1)
    assert at_t1["labels"]["stale"] == "不更新"

    # T2: F1 resolved (A1 passes again), F5 (A6 stale) and F6 (A5 empty shell) opened, F8
    # opened exactly at T2 (A4 unverified); A2 still fails on two veto flags (counted once).
    at_t2 = await summary(client, keys.viewer, group_by="region", at=T2.isoformat())
    assert at_t2["groups"] == [
        row("110101", "北京市东城区", 1, 1, 0, 0.0, stale=1),
        row("220102", "长春市南关区", 4, 3, 2, 0.6667, stale=1, unreachable=1),
        row("220103", "长春市宽城区", 2, 2, 2, 1.0, zombie=1, empty_shell=1, unverified=1),
    ]
    assert at_t2["totals"] == row(
        None, None, 7, 6, 4, 0.6667, stale=2, unreachable=1, zombie=1, empty_shell=1, unverified=1
    )


async def test_by_platform_and_organization(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    await seed_registry(database)
    by_platform = await summary(client, keys.viewer, group_by="platform", at=T2.isoformat())
    assert by_platform["groups"] == [
        row("douyin", None, 1, 1, 1, 1.0),
        row("rss", None, 1, 0, 0, None),
        row("website", None, 1, 1, 1, 1.0, empty_shell=1),
        row("wechat", None, 1, 1, 0, 0.0, stale=1, unreachable=1),
        row("weibo", None, 3, 3, 2, 0.6667, stale=1, zombie=1, unverified=1),
    ]
    by_org = await summary(client, keys.viewer, group_by="organization", at=T1.isoformat())
    assert {g["key"]: (g["total"], g["checked"], g["passing"]) for g in by_org["groups"]} == {
        "东城区政府": (1, 1, 1),
        "南关区政府": (3, 2, 0),
        "南关区教育局": (1, 0, 0),
        "宽城区政府": (1, 1, 1),
    }


async def test_region_scoped_key_sees_its_region_only(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    await seed_registry(database)
    scoped = await summary(client, keys.scoped_viewer, group_by="region", at=T2.isoformat())
    assert [g["key"] for g in scoped["groups"]] == ["220102", "220103"]
    assert scoped["totals"] == row(
        None, None, 6, 5, 4, 0.8, stale=1, unreachable=1, zombie=1, empty_shell=1, unverified=1
    )


async def test_default_time_point_is_now(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    await seed_registry(database)
    now = await summary(client, keys.viewer)
    # By now F3 has resolved too; open: F2, F4, F5, F6, F8.
    assert now["group_by"] == "region"
    assert now["totals"]["passing"] == 4
    assert now["totals"]["flags"] == counts(
        stale=1, unreachable=1, zombie=1, empty_shell=1, unverified=1
    )


@pytest.mark.parametrize("group_by", ["region", "organization", "department", "platform"])
async def test_current_summary_agrees_with_flag_history(
    client: httpx.AsyncClient, database: Database, keys: Keys, group_by: str
) -> None:
    """Now is read from the accounts' open-flag mirror, a past time point from flag history:
    just before now the two must give the same figures, for every key and grouping."""
    await seed_registry(database)
    just_before = (utcnow() - timedelta(seconds=1)).isoformat()
    for key in (keys.viewer, keys.scoped_viewer):
        current = await summary(client, key, group_by=group_by)
        history = await summary(client, key, group_by=group_by, at=just_before)
        assert current["groups"] == history["groups"]
        assert current["totals"] == history["totals"]
        assert current["totals"]["total"] > 0


async def test_flag_lifecycle_keeps_the_account_mirror(database: Database) -> None:
    ids = await seed_registry(database)
    rules = {
        "zombie": FlagRule("zombie", veto=False, source="s"),
        "stale": FlagRule("stale", veto=True, source="s"),
    }
    now = utcnow()
    async with database.write_session() as session:
        account = await session.get(Account, ids["A1"])
        assert account is not None and account.open_flags == 0
        opened = {"zombie": Decision(True), "stale": Decision(True)}
        await flags_service.apply_decisions(session, account, opened, rules, now=now)
    async with database.write_session() as session:
        account = await session.get(Account, ids["A1"])
        assert account is not None
        assert account.open_flags == FLAG_BITS["zombie"] | FLAG_BITS["stale"]
        assert account.veto_open is True
        resolved = {"stale": Decision(False)}
        await flags_service.apply_decisions(session, account, resolved, rules, now=now)
    async with database.write_session() as session:
        account = await session.get(Account, ids["A1"])
        assert account is not None
        assert (account.open_flags, account.veto_open) == (FLAG_BITS["zombie"], False)
        await flags_service.resolve_all(session, account, now, "account archived")
    async with database.read_session() as session:
        account = await session.get(Account, ids["A1"])
        assert account is not None and (account.open_flags, account.veto_open) == (0, False)


async def test_csv_and_xlsx_have_chinese_headers(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    await seed_registry(database)
    params = {"group_by": "region", "at": T2.isoformat(), "format": "csv"}
    response = await client.get(
        "/api/v1/reports/summary", params=params, headers=Keys.header(keys.viewer)
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "summary-region-20260320T000000Z.csv" in response.headers["content-disposition"]
    text = response.content.decode("utf-8-sig")
    records = list(csv.reader(io.StringIO(text)))
    assert records[0][:7] == [
        "行政区划代码",
        "所属地区",
        "账号总数",
        "已检查",
        "合格",
        "不合格",
        "合格率",
    ]
    assert records[0][7:] == list(FLAG_LABELS.values())
    assert records[2][:7] == ["220102", "长春市南关区", "4", "3", "2", "1", "66.67%"]
    assert records[-1][:7] == ["合计", "", "7", "6", "4", "2", "66.67%"]

    params["format"] = "xlsx"
    params["group_by"] = "platform"
    response = await client.get(
        "/api/v1/reports/summary", params=params, headers=Keys.header(keys.viewer)
    )
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content), read_only=True)
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    assert rows[0][:6] == ("平台", "账号总数", "已检查", "合格", "不合格", "合格率")
    assert rows[2][:6] == ("RSS订阅", 1, 0, 0, 0, None)  # no pass rate: nothing checked
    assert rows[-1][:5] == ("合计", 7, 6, 4, 2)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"at": "2026-03-10T00:00:00"}, "at"),
        ({"at": "yesterday"}, "at"),
        ({"group_by": "county"}, "group_by"),
        ({"format": "pdf"}, "format"),
    ],
)
async def test_bad_input_names_the_field(
    client: httpx.AsyncClient, keys: Keys, params: dict[str, str], field: str
) -> None:
    response = await client.get(
        "/api/v1/reports/summary", params=params, headers=Keys.header(keys.viewer)
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_needs_a_key(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/reports/summary")).status_code == 401
