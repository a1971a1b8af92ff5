"""The workbook re-reads with its Chinese headers; the bulletin opens and holds the figures."""

from __future__ import annotations

import io

import httpx
from docx import Document
from openpyxl import load_workbook

from app.db import Database
from tests.conftest import Keys
from tests.inspections.history import T2, T, seed_history


async def _take(client: httpx.AsyncClient, keys: Keys, name: str, at: str) -> int:
    made = await client.post(
        "/api/v1/inspections", json={"name": name, "at": at}, headers=Keys.header(keys.operator)
    )
    assert made.status_code == 201, made.text
    inspection_id: int = made.json()["id"]
    return inspection_id


async def test_the_workbook_rereads_with_its_headers(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    await seed_history(database)
    first = await _take(client, keys, "二季度", T.isoformat())
    second = await _take(client, keys, "三季度", T2.isoformat())
    viewer = Keys.header(keys.viewer)
    path = f"/api/v1/inspections/{first}/export"
    response = await client.get(path, params={"format": "xlsx"}, headers=viewer)
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].endswith('.xlsx"')
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    assert book.sheetnames == [
        "总体情况",
        "按地区",
        "按主办单位",
        "按部门",
        "按层级",
        "按平台",
        "合格率100%名单",
        "问题账号名单",
    ]
    overview = dict(book["总体情况"].iter_rows(min_row=2, values_only=True))
    assert (overview["备案总数"], overview["已检查"], overview["合格"]) == (8, 7, 5)
    assert overview["合格率"] == "71.43%"
    assert overview["监测时间点"] == "2026-06-30 08:00:00"  # China time
    regions = list(book["按地区"].iter_rows(values_only=True))
    assert regions[0][:7] == (
        "行政区划代码",
        "所属地区",
        "检查数",
        "已检查",
        "合格",
        "不合格",
        "合格率",
    )
    assert regions[2][:7] == ("220102", "南关区", 4, 4, 2, 2, "50.00%")
    full = list(book["合格率100%名单"].iter_rows(values_only=True))
    assert full[0] == ("类别", "代码", "名称", "检查数", "合格率")
    assert ("地区", "220103", "宽城区", 3, "100.00%") in full
    problems = list(book["问题账号名单"].iter_rows(values_only=True))
    assert problems[0][:4] == ("序号", "账号编号", "账号名称", "平台")
    assert [(row[2], row[10]) for row in problems[1:]] == [
        ("账号B2", "2026年6月10日后未更新（超过14天）"),
        ("账号B3", "账号已注销（2026年6月27日起）"),
        ("账号B4", "僵尸账号：2026年3月1日后未更新（超过90天）"),
    ]

    later = await client.get(
        f"/api/v1/inspections/{second}/export", headers=Keys.header(keys.viewer)
    )
    book = load_workbook(io.BytesIO(later.content), read_only=True)
    assert book.sheetnames[-1] == "整改情况"
    rows = list(book["整改情况"].iter_rows(values_only=True))
    assert [(r[0], r[2], r[6]) for r in rows[1:]] == [
        ("已整改", "账号B2", "不更新"),
        ("未整改", "账号B3", "无法访问"),
        ("未整改", "账号B4", "僵尸"),
    ]


async def test_the_bulletin_opens_and_holds_the_figures(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    await seed_history(database)
    await _take(client, keys, "2026年第二季度政务新媒体检查", T.isoformat())
    second = await _take(client, keys, "2026年第三季度政务新媒体检查", T2.isoformat())
    response = await client.get(
        f"/api/v1/inspections/{second}/bulletin.docx", headers=Keys.header(keys.viewer)
    )
    assert response.status_code == 200, response.text
    document = Document(io.BytesIO(response.content))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "关于2026年第三季度政务新媒体检查情况的通报" in text
    assert "一、总体情况" in text and "二、存在的问题" in text and "三、整改情况" in text
    # At T2: 9 accounts, 8 checked, 6 passing: 75.00%.
    assert "共有备案政务新媒体和网站9个" in text
    assert "已检查8个，合格6个，不合格2个，总体合格率为75.00%" in text
    assert "以2026年7月10日为监测时间点" in text
    assert "已整改1个，仍未整改2个" in text
    annex = document.tables[1]
    header = [cell.text for cell in annex.rows[0].cells]
    assert header == ["序号", "地区", "主办单位", "账号名称", "平台", "存在问题"]
    named = {row.cells[3].text: row.cells[5].text for row in annex.rows[1:]}
    assert named["账号B3"] == "账号已注销（2026年6月27日起）"
    assert set(named) == {"账号B3", "账号B4", "账号B10"}
    full = {tuple(c.text for c in row.cells) for row in document.tables[0].rows[1:]}
    assert ("地区", "东城区") in full
