"""CSV and XLSX import and export over the API."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from openpyxl import Workbook, load_workbook

from app.accounts.spreadsheet import COLUMNS
from tests.accounts.factories import account_payload
from tests.accounts.factories import post_import as _import
from tests.conftest import Keys

HEADERS = [h for h, _ in COLUMNS]


def sheet_csv(rows: list[list[str]], header: list[str] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header or HEADERS)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


GOOD = [
    [
        "长春发布",
        "微博",
        "1234567890",
        "长春市政府新闻办",
        "220102",
        "长春市南关区",
        "新闻办",
        "市级",
        "政务发布",
        "正常",
        "重点,试点",
    ],
    [
        "吉林省政府网站",
        "网站",
        "https://www.jl.gov.cn/",
        "吉林省人民政府办公厅",
        "220000",
        "吉林省",
        "办公厅",
        "省级",
        "政府网站",
        "正常",
        "",
    ],
    [
        "-负号开头的名字",
        "抖音",
        "MS4wLjABAAAAabcdefghijklmnopqrstuvwxyz012345",
        "=SUM(A1)",
        "220103",
        "",
        "",
        "",
        "",
        "正常",
        "@标签",
    ],
]


async def _all(client: httpx.AsyncClient, keys: Keys) -> list[dict[str, object]]:
    response = await client.get("/api/v1/accounts", headers=keys.header(keys.viewer))
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_dry_run_writes_nothing(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await _import(client, keys, sheet_csv(GOOD), "a.csv", dry_run=True)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 3 and response.json()["dry_run"] is True
    assert await _all(client, keys) == []


async def test_import_maps_chinese_labels(client: httpx.AsyncClient, keys: Keys) -> None:
    report = (await _import(client, keys, sheet_csv(GOOD), "a.csv")).json()
    assert (report["created"], report["failed"]) == (3, 0)
    accounts = {a["handle"]: a for a in await _all(client, keys)}
    weibo = accounts["1234567890"]
    assert weibo["platform"] == "weibo" and weibo["level"] == "municipal"
    assert weibo["tags"] == ["重点", "试点"] and weibo["status"] == "active"
    assert accounts["https://www.jl.gov.cn/"]["level"] == "provincial"
    douyin = accounts["MS4wLjABAAAAabcdefghijklmnopqrstuvwxyz012345"]
    assert douyin["organization"] == "=SUM(A1)" and douyin["level"] is None


async def test_bad_rows_are_reported_by_line_and_column_and_good_rows_land(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    rows = [
        GOOD[0],
        ["坏账号", "微博", "weibo.com/abc", "单位", "220102", "", "", "", "", "正常", ""],
        ["坏地区", "微博", "1234567891", "单位", "2201", "", "", "", "", "正常", ""],
        ["坏平台", "脸书", "123", "单位", "220102", "", "", "", "", "正常", ""],
        ["坏层级", "微博", "1234567892", "单位", "220102", "", "", "部级", "", "正常", ""],
    ]
    report = (await _import(client, keys, sheet_csv(rows), "a.csv")).json()
    assert (report["created"], report["failed"]) == (1, 4)
    errors = {(e["line"], e["column"]) for e in report["errors"]}
    assert errors == {(3, "账号ID"), (4, "行政区划代码"), (5, "平台"), (6, "层级")}
    assert [a["handle"] for a in await _all(client, keys)] == ["1234567890"]


async def test_csv_export_reimports_unchanged(client: httpx.AsyncClient, keys: Keys) -> None:
    await _import(client, keys, sheet_csv(GOOD), "a.csv")
    before = await _all(client, keys)
    exported = await client.get("/api/v1/accounts:export", headers=keys.header(keys.viewer))
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith("\ufeff".encode())
    text = exported.content.decode("utf-8-sig")
    assert text.splitlines()[0] == ",".join(HEADERS)
    assert "'=SUM(A1)" in text and "'-负号开头的名字" in text  # formulas neutralised
    report = (await _import(client, keys, exported.content, "export.csv")).json()
    assert (report["unchanged"], report["updated"], report["created"]) == (3, 0, 0)
    assert await _all(client, keys) == before


async def test_xlsx_export_reimports_unchanged(client: httpx.AsyncClient, keys: Keys) -> None:
    await _import(client, keys, sheet_csv(GOOD), "a.csv")
    exported = await client.get(
        "/api/v1/accounts:export", params={"format": "xlsx"}, headers=keys.header(keys.viewer)
    )
    assert exported.status_code == 200
    workbook = load_workbook(io.BytesIO(exported.content))
    sheet = workbook.worksheets[0]
    assert [c.value for c in sheet[1]] == HEADERS
    assert all(
        cell.data_type == "s"
        for row in sheet.iter_rows(min_row=2)
        for cell in row
        if cell.value is not None
    )
    report = (await _import(client, keys, exported.content, "export.xlsx")).json()
    assert (report["unchanged"], report["failed"]) == (3, 0)


async def test_xlsx_import_with_numeric_cells(client: httpx.AsyncClient, keys: Keys) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["平台", "账号ID", "账号名称", "行政区划代码"])
    sheet.append(["weibo", 1234567890, "数字单元格", 220102])
    out = io.BytesIO()
    workbook.save(out)
    report = (await _import(client, keys, out.getvalue(), "a.xlsx")).json()
    assert report["created"] == 1, report
    assert (await _all(client, keys))[0]["handle"] == "1234567890"


async def test_gbk_csv_from_excel(client: httpx.AsyncClient, keys: Keys) -> None:
    report = (
        await _import(client, keys, sheet_csv(GOOD[:1]).decode().encode("gbk"), "a.csv")
    ).json()
    assert report["created"] == 1
    assert (await _all(client, keys))[0]["name"] == "长春发布"


@pytest.mark.parametrize(
    ("data", "name", "needle"),
    [
        (b"", "a.csv", "empty"),
        (b"foo,bar\n1,2\n", "a.csv", "missing column"),
        (b"PK\x03\x04garbage", "a.xlsx", "XLSX"),
        (b"\x00\x01\x02\xff\xfe", "a.csv", "CSV"),
    ],
)
async def test_unreadable_files_are_clear_errors(
    client: httpx.AsyncClient, keys: Keys, data: bytes, name: str, needle: str
) -> None:
    await client.post(
        "/api/v1/accounts", json=account_payload(), headers=keys.header(keys.operator)
    )
    response = await _import(client, keys, data, name)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert needle in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "file"
    assert len(await _all(client, keys)) == 1


async def test_oversized_upload_is_413(client: httpx.AsyncClient, keys: Keys) -> None:
    # The test settings cap uploads at 256 KiB.
    big = sheet_csv(GOOD) + b"x" * (300 * 1024)
    response = await _import(client, keys, big, "big.csv")
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert await _all(client, keys) == []


async def test_viewer_cannot_import(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.post(
        "/api/v1/accounts:import", files={"file": ("a.csv", b"x")}, headers=keys.header(keys.viewer)
    )
    assert response.status_code == 403


async def test_chunked_oversized_json_is_413(client: httpx.AsyncClient, keys: Keys) -> None:
    async def body():  # type: ignore[no-untyped-def]
        yield b'{"items": ['
        for _ in range(2000):
            yield b'{"platform": "weibo", "handle": "1234567890", "name": "' + b"x" * 200 + b'"},'
        yield b"{}]}"

    response = await client.post(
        "/api/v1/accounts:bulk",
        content=body(),
        headers=keys.header(keys.operator) | {"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert await _all(client, keys) == []


@pytest.mark.parametrize("dry_run", [False, True])
async def test_a_repeated_handle_is_a_row_error_in_whatever_chunk(
    client: httpx.AsyncClient, keys: Keys, dry_run: bool
) -> None:
    # Rows are upserted 1,000 at a time: the repeat at line 1,502 lands in a later chunk than
    # the row it repeats, which that chunk would otherwise take for an existing account.
    rows = [["账号", "微博", str(1_000_000_000 + n), "单位", "220102"] for n in range(1500)]
    rows.append(["重复", "微博", "1000000000", "单位", "220102"])
    header = ["账号名称", "平台", "账号ID", "主办单位", "行政区划代码"]
    response = await _import(client, keys, sheet_csv(rows, header), "a.csv", dry_run=dry_run)
    report = response.json()
    assert (report["created"], report["failed"]) == (1500, 1), report
    assert report["errors"] == [
        {"line": 1502, "column": "账号ID", "reason": "the same platform and handle as line 2"}
    ]
