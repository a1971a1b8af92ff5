"""The problem list (问题账号清单) as of a time point, its pages and its exports."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from openpyxl import load_workbook

from app.db import Database
from tests.conftest import Keys
from tests.reports.registry import INJECTION, T1, T2, seed_registry


async def problems(client: httpx.AsyncClient, key: str, **params: str) -> dict[str, Any]:
    response = await client.get("/api/v1/reports/problems", params=params, headers=Keys.header(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(item: dict[str, Any]) -> list[str]:
    return [f["code"] for f in item["flags"]]


async def test_contents_at_two_time_points(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    ids = await seed_registry(database)
    at_t1 = await problems(client, keys.viewer, at=T1.isoformat())
    # A1 (stale), A2 (unreachable, stale), A4 (zombie). A7 is archived; F9 resolved at T1.
    assert [(i["id"], codes(i), i["passing"]) for i in at_t1["items"]] == [
        (ids["A1"], ["stale"], False),
        (ids["A2"], ["unreachable", "stale"], False),
        (ids["A4"], ["zombie"], True),
    ]
    at_t2 = await problems(client, keys.viewer, at=T2.isoformat())
    # A1 resolved; A4 also shows its non-problem unverified flag; A5 empty shell; A6 stale.
    assert [(i["id"], codes(i)) for i in at_t2["items"]] == [
        (ids["A2"], ["unreachable", "stale"]),
        (ids["A4"], ["zombie", "unverified"]),
        (ids["A5"], ["empty_shell"]),
        (ids["A6"], ["stale"]),
    ]
    a2 = at_t2["items"][0]
    assert a2["name"] == INJECTION
    assert a2["region_code"] == "220102"
    assert a2["organization"] == "南关区政府"
    flag = a2["flags"][0]
    assert flag["label_zh"] == "无法访问"
    assert flag["veto"] is True
    assert flag["opened_at"].startswith("2026-03-08T00:00:00")
    assert flag["rule"] == "days=14"
    assert flag["source"] == "国办秘函〔2019〕19号"
    assert flag["evidence"] == {"observation": "A2-unreachable"}
    assert at_t2["next_cursor"] is None


async def test_cursor_pages_and_filters(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    ids = await seed_registry(database)
    at = T2.isoformat()
    first = await problems(client, keys.viewer, at=at, limit="3")
    assert [i["id"] for i in first["items"]] == [ids["A2"], ids["A4"], ids["A5"]]
    second = await problems(client, keys.viewer, at=at, limit="3", cursor=first["next_cursor"])
    assert [i["id"] for i in second["items"]] == [ids["A6"]]
    assert second["next_cursor"] is None

    stale = await problems(client, keys.viewer, at=at, code="stale")
    assert [i["id"] for i in stale["items"]] == [ids["A2"], ids["A6"]]
    weibo = await problems(client, keys.viewer, at=at, platform="weibo")
    assert [i["id"] for i in weibo["items"]] == [ids["A4"], ids["A6"]]
    county = await problems(client, keys.viewer, at=at, region_code="220103")
    assert [i["id"] for i in county["items"]] == [ids["A4"], ids["A5"]]

    scoped = await problems(client, keys.scoped_viewer, at=at)
    assert [i["id"] for i in scoped["items"]] == [ids["A2"], ids["A4"], ids["A5"]]


async def test_exports_have_chinese_headers_and_neutralised_cells(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    await seed_registry(database)
    # +08:00: the sheet shows Beijing time.
    params = {"at": "2026-03-20T08:00:00+08:00", "format": "csv", "limit": "1"}
    response = await client.get(
        "/api/v1/reports/problems", params=params, headers=Keys.header(keys.viewer)
    )
    assert response.status_code == 200
    records = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert records[0] == [
        "账号编号", "账号名称", "平台", "账号ID", "主办单位", "行政区划代码", "所属地区", "部门",
        "是否合格", "问题类型", "单项否决", "发现时间", "判定规则", "依据", "证据",
    ]  # fmt: skip
    # Every open flag of every problem account, whatever the limit: 2 + 2 + 1 + 1.
    assert len(records) == 1 + 6
    a2 = records[1]
    assert a2[1] == "'" + INJECTION
    assert a2[2] == "微信公众号"
    assert a2[8:12] == ["不合格", "无法访问", "是", "2026-03-08T08:00:00+08:00"]
    assert a2[14] == '{"observation": "A2-unreachable"}'

    params["format"] = "xlsx"
    response = await client.get(
        "/api/v1/reports/problems", params=params, headers=Keys.header(keys.scoped_viewer)
    )
    workbook = load_workbook(io.BytesIO(response.content), read_only=True)
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    assert workbook.sheetnames == ["问题账号清单"]
    assert rows[0][:3] == ("账号编号", "账号名称", "平台")
    assert rows[1][1] == "'" + INJECTION
    assert len(rows) == 1 + 5  # the scoped key: A2, A4, A5


async def test_bad_time_point_and_cursor(client: httpx.AsyncClient, keys: Keys) -> None:
    for params, field in (({"at": "2026-03-20T00:00:00"}, "at"), ({"cursor": "nope"}, "cursor")):
        response = await client.get(
            "/api/v1/reports/problems", params=params, headers=Keys.header(keys.viewer)
        )
        assert response.status_code in (400, 422)
        assert response.json()["errors"][0]["field"] == field
