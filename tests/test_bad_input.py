"""Bad input everywhere gets a clear answer or is made safe, and nothing stored is lost.

Oversized, deeply nested, non-UTF-8 and NUL-bearing bodies; broken CSV encodings; formula
cells in and out of spreadsheets; path tricks in upload names and CLI paths; and the inputs
the API fuzzer found answered with a 500 or accepted against the schema. Several neighbours
live with their domain: tests/accounts/test_import_export.py (chunked 413, upload 413, GBK,
unreadable files, CSV export neutralising = and -).
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

from app.accounts.models import Account
from app.accounts.spreadsheet import COLUMNS, write_csv, write_xlsx
from app.cli import app as cli
from app.config import get_settings
from app.db import Database
from tests.accounts.factories import account_payload
from tests.conftest import Keys

HEADERS = [h for h, _ in COLUMNS]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


async def _registry(client: httpx.AsyncClient, keys: Keys) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/accounts", headers=keys.header(keys.viewer))
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _seeded(client: httpx.AsyncClient, keys: Keys) -> list[dict[str, Any]]:
    """One stored account, to show after each bad request that it is still there unchanged."""
    created = await client.post(
        "/api/v1/accounts", json=account_payload(), headers=keys.header(keys.operator)
    )
    assert created.status_code == 201
    return await _registry(client, keys)


def _problem(response: httpx.Response, status: int, needle: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert needle in body["detail"], body
    return body


def _no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    # An unhandled exception would be logged at ERROR by the 500 handler.
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def _bulk_json(items: int, padding: int) -> bytes:
    row = '{"platform": "weibo", "handle": "1234567890", "name": "' + "x" * padding + '"}'
    return ('{"items": [' + ",".join([row] * items) + "]}").encode()


async def test_json_body_over_the_limit_is_413(client: httpx.AsyncClient, keys: Keys) -> None:
    before = await _seeded(client, keys)
    body = _bulk_json(items=2000, padding=200)  # ~480 KB; the test limit is 256 KiB
    response = await client.post(
        "/api/v1/accounts:bulk",
        content=body,
        headers=keys.header(keys.operator) | {"content-type": "application/json"},
    )
    _problem(response, 413, "larger than")
    assert await _registry(client, keys) == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/accounts", b"[" * 10_000 + b"]" * 10_000),
        ("/api/v1/accounts", b'{"a":' * 10_000 + b"1" + b"}" * 10_000),
        ("/api/v1/accounts:bulk", b'{"items": [' + b"[" * 10_000 + b"]" * 10_000 + b"]}"),
        ("/api/v1/samples", b'{"filters": ' + b'{"a":' * 10_000 + b"1" + b"}" * 10_001),
        ("/api/v1/webhooks", b"[" * 10_000 + b"]" * 10_000),
    ],
)
async def test_deeply_nested_json_is_a_clear_400(
    client: httpx.AsyncClient,
    keys: Keys,
    caplog: pytest.LogCaptureFixture,
    path: str,
    body: bytes,
) -> None:
    before = await _seeded(client, keys)
    response = await client.post(
        path, content=body, headers=keys.header(keys.admin) | {"content-type": "application/json"}
    )
    _problem(response, 400, "nested too deeply")
    _no_errors_logged(caplog)
    assert await _registry(client, keys) == before


async def test_nesting_the_parser_accepts_is_a_row_error(
    client: httpx.AsyncClient, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    before = await _seeded(client, keys)
    nested = '{"a":' * 500 + "1" + "}" * 500
    body = '{"items": [{"platform": "weibo", "handle": "1", "name": ' + nested + "}]}"
    response = await client.post(
        "/api/v1/accounts:bulk",
        content=body.encode(),
        headers=keys.header(keys.operator) | {"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    row = response.json()["rows"][0]
    assert row["status"] == "error" and "name" in [e["field"] for e in row["errors"]]
    _no_errors_logged(caplog)
    assert await _registry(client, keys) == before


async def test_json_that_is_not_utf8_or_not_json_names_the_problem(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    before = await _seeded(client, keys)
    headers = keys.header(keys.operator) | {"content-type": "application/json"}
    latin1 = '{"name": "Müller"}'.encode("latin-1")
    response = await client.patch(
        f"/api/v1/accounts/{before[0]['id']}", content=latin1, headers=headers
    )
    _problem(response, 400, "not valid UTF-8 (byte 0xfc at offset 11)")
    response = await client.post("/api/v1/accounts", content=b'{"name": ', headers=headers)
    body = _problem(response, 422, "not valid JSON")
    assert body["errors"] == [
        {"field": "body", "message": "not valid JSON: Expecting value at character 9"}
    ]
    assert await _registry(client, keys) == before


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("POST", "/api/v1/accounts", {"json": account_payload(n=2, name="长春\x00")}, "name"),
        (
            "POST",
            "/api/v1/accounts:bulk",
            {"json": {"items": [account_payload(n=2, department="\x00")]}},
            "items.0.department",
        ),
        ("POST", "/api/v1/keys", {"json": {"name": "k\x00", "role": "viewer"}}, "name"),
        ("GET", "/api/v1/accounts", {"params": {"q": "长春\x00"}}, "q"),
        ("POST", "/api/v1/samples", {"json": {"size": 1, "filters": {"organization": "\x00"}}},
         "filters.organization"),
        # An account named "ctl\u0001name" was stored (201), then broke every XLSX export of
        # its region (issue 16): every control character but tab and newline is refused.
        ("POST", "/api/v1/accounts", {"json": account_payload(n=2, name="ctl\u0001name")}, "name"),
        ("PATCH", "/api/v1/accounts/{id}", {"json": {"organization": "\x1b[31m红"}},
         "organization"),
        ("POST", "/api/v1/accounts:bulk",
         {"json": {"items": [account_payload(n=2), account_payload(n=3, region_name="\x7f")]}},
         "items.1.region_name"),
        ("GET", "/api/v1/accounts", {"params": {"q": "长春\x07"}}, "q"),
        ("POST", "/api/v1/keys", {"json": {"name": "k\x85", "role": "viewer"}}, "name"),
    ],
)  # fmt: skip
async def test_nul_and_control_characters_are_refused(
    client: httpx.AsyncClient,
    keys: Keys,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    field: str,
) -> None:
    # PostgreSQL cannot store U+0000: these were 500s there before they were refused.
    before = await _seeded(client, keys)
    path = path.format(id=before[0]["id"])
    response = await client.request(method, path, headers=keys.header(keys.admin), **kwargs)
    needle = "U+0000 NUL" if "\\x00" in repr(kwargs) else "only tab and newline are allowed"
    body = _problem(response, 422, needle)
    assert body["errors"][0]["field"] == field
    _no_errors_logged(caplog)
    assert await _registry(client, keys) == before


def _sheet(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["账号名称", "平台", "账号ID", "行政区划代码"])
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


async def _import(client: httpx.AsyncClient, keys: Keys, data: bytes, name: str) -> httpx.Response:
    return await client.post(
        "/api/v1/accounts:import", files={"file": (name, data)}, headers=keys.header(keys.operator)
    )


async def test_csv_with_broken_utf8_names_the_line_instead_of_reading_gbk(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    before = await _seeded(client, keys)
    data = bytearray(_sheet([["长春发布", "微博", "1234567891", "220102"]] * 3))
    third_line = data.index(b"\n", data.index(b"\n", data.index(b"\n") + 1) + 1) + 1
    data[third_line] = 0xFF
    body = _problem(await _import(client, keys, bytes(data), "a.csv"), 422, "not valid UTF-8")
    assert "byte 0xff on line 4" in body["detail"]
    assert body["errors"][0]["field"] == "file"
    assert await _registry(client, keys) == before


async def test_exports_neutralise_every_formula_start(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    for n, start in enumerate(("=", "+", "-", "@"), start=1):
        payload = account_payload(n=n, name=f"{start}1+1", organization=f"{start}cmd|' /C calc'!A0")
        created = await client.post(
            "/api/v1/accounts", json=payload, headers=keys.header(keys.operator)
        )
        assert created.status_code == 201, created.text
    exported = await client.get("/api/v1/accounts:export", headers=keys.header(keys.viewer))
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert sorted(r["账号名称"] for r in rows) == ["'+1+1", "'-1+1", "'=1+1", "'@1+1"]
    assert all(r["主办单位"].startswith("'") for r in rows)
    summary = await client.get(
        "/api/v1/reports/summary",
        params={"group_by": "organization", "format": "csv"},
        headers=keys.header(keys.viewer),
    )
    groups = list(csv.reader(io.StringIO(summary.content.decode("utf-8-sig"))))[1:-1]
    assert sorted(g[0][:2] for g in groups) == ["'+", "'-", "'=", "'@"]
    summary = await client.get(
        "/api/v1/reports/summary",
        params={"group_by": "organization", "format": "xlsx"},
        headers=keys.header(keys.viewer),
    )
    cells = [row[0] for row in load_workbook(io.BytesIO(summary.content)).worksheets[0]][1:-1]
    assert sorted(str(c.value)[:2] for c in cells) == ["'+", "'-", "'=", "'@"]
    assert {c.data_type for c in cells} == {"s"}


def test_sheet_writers_neutralise_tab_and_carriage_return_too() -> None:
    # The API strips leading whitespace, but rows stored another way reach the writers as is.
    accounts = [
        Account(
            id=n,
            platform="weibo",
            handle=str(1_000_000_000 + n),
            name=f"{start}HYPERLINK(1)",
            organization="办公室",
            region_code="220102",
        )
        for n, start in enumerate(FORMULA_STARTS)
    ]
    text = "".join(write_csv(accounts)).lstrip("\ufeff")
    names = [r[0] for r in csv.reader(io.StringIO(text, newline=""))][1:]
    assert names == [f"'{start}HYPERLINK(1)" for start in FORMULA_STARTS]
    sheet = load_workbook(io.BytesIO(write_xlsx(accounts))).worksheets[0]
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    # Without lxml, openpyxl reads a carriage return back as a line feed (with lxml, which
    # python-docx brings, as itself); either way the apostrophe still leads.
    assert [str(c.value).replace("\r", "\n") for c in cells] == [
        n.replace("\r", "\n") for n in names
    ]
    assert {c.data_type for c in cells} == {"s"}


async def test_xlsx_formula_cells_import_as_text_and_export_as_strings(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["账号名称", "平台", "账号ID", "行政区划代码", "主办单位"])
    sheet.append(['=HYPERLINK("http://x","点我")', "微博", "1234567890", "220102", "=1+1"])
    upload = io.BytesIO()
    workbook.save(upload)
    report = (await _import(client, keys, upload.getvalue(), "formulas.xlsx")).json()
    assert (report["created"], report["failed"]) == (1, 0), report
    [stored] = await _registry(client, keys)
    assert (stored["name"], stored["organization"]) == ('=HYPERLINK("http://x","点我")', "=1+1")

    exported = await client.get(
        "/api/v1/accounts:export", params={"format": "xlsx"}, headers=keys.header(keys.viewer)
    )
    cells = [c for row in load_workbook(io.BytesIO(exported.content)).worksheets[0] for c in row]
    assert "f" not in {c.data_type for c in cells}
    assert {c.value for c in cells} >= {'\'=HYPERLINK("http://x","点我")', "'=1+1"}
    again = (await _import(client, keys, exported.content, "export.xlsx")).json()
    assert (again["unchanged"], again["failed"]) == (1, 0)


@pytest.mark.parametrize(
    ("filename", "recorded"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("C:\\Users\\x\\a.csv", "a.csv"),
        ("\u202egpj.csv", "gpj.csv"),
        ("a\x00.csv", "a.csv"),
    ],
)
async def test_upload_names_are_never_paths(
    client: httpx.AsyncClient, keys: Keys, filename: str, recorded: str
) -> None:
    data = _sheet([["长春发布", "微博", "1234567890", "220102"]])
    boundary = "b0undary"
    # Built by hand: clients percent-encode a NUL in a file name, a hostile one need not.
    multipart = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = await client.post(
        "/api/v1/accounts:import",
        content=multipart,
        headers=keys.header(keys.operator)
        | {"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    # The upload was read, not the path its name spells (/etc/passwd has no 平台 column).
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1
    audit = await client.get("/api/v1/audit", headers=keys.header(keys.admin))
    targets = [e["target"] for e in audit.json()["items"] if e["action"] == "accounts.import"]
    assert targets == [f"file:{recorded}"]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LIVENESS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        ("missing/dir/accounts.csv", "No such file or directory"),
        ("missing/dir/accounts.xlsx", "No such file or directory"),
        ("accounts\x00.csv", "embedded null byte"),
        ("a-directory.csv", "is a directory"),
    ],
)
def test_cli_export_to_a_bad_path_is_readable(cli_env: Path, target: str, needle: str) -> None:
    runner = CliRunner(env={"COLUMNS": "300", "NO_COLOR": "1"})
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    (cli_env / "a-directory.csv").mkdir()
    result = runner.invoke(cli, ["accounts", "export", target])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback


# What the API fuzzer (tests/test_fuzz.py) found, pinned here one by one.


async def test_ids_beyond_64_bits_are_422_not_500(
    client: httpx.AsyncClient, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    huge = str(2**63)
    for path in (
        f"/api/v1/accounts/{huge}",
        f"/api/v1/accounts/{huge}/checks",
        f"/api/v1/flags/{huge}",
        f"/api/v1/flags?account_id={huge}",
    ):
        response = await client.get(path, headers=keys.header(keys.admin))
        assert response.status_code == 422, (path, response.text)
    cursor = "aWQ6OTIyMzM3MjAzNjg1NDc3NTgwOA"  # base64 of "id:9223372036854775808"
    response = await client.get(
        "/api/v1/accounts", params={"cursor": cursor}, headers=keys.header(keys.viewer)
    )
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "cursor"
    _no_errors_logged(caplog)


@pytest.mark.parametrize("value", ["0.5", "1700000000", "-1"])
async def test_times_are_iso_8601_not_unix_timestamps(
    client: httpx.AsyncClient, keys: Keys, value: str
) -> None:
    for path, name in (("/api/v1/reports/summary", "at"), ("/api/v1/checks", "since")):
        response = await client.get(path, params={name: value}, headers=keys.header(keys.viewer))
        body = _problem(response, 422, "ISO 8601")
        assert body["errors"][0]["field"] == name


async def test_unknown_query_parameters_are_refused(client: httpx.AsyncClient, keys: Keys) -> None:
    await _seeded(client, keys)
    response = await client.get(
        "/api/v1/accounts", params={"regoin_code": "11"}, headers=keys.header(keys.viewer)
    )
    body = _problem(response, 422, "unknown query parameter regoin_code")
    assert "region_code" in body["detail"]
    assert body["errors"] == [
        {"field": "regoin_code", "message": "not a parameter of this operation"}
    ]
    known = await client.get(
        "/api/v1/accounts", params={"region_code": "11"}, headers=keys.header(keys.viewer)
    )
    assert known.status_code == 200 and known.json()["items"] == []


async def test_method_not_allowed_lists_every_method_of_the_path(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await client.put("/api/v1/accounts/1", headers=keys.header(keys.admin))
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, PATCH"


@pytest.mark.parametrize(
    "char",
    ["\x01", "\x08", "\x0b", "\x0c", "\r", "\x1f", "\x7f", "\x85", "\x9f", "\ufffe", "\uffff"],
)
async def test_each_character_a_spreadsheet_cannot_hold_is_refused(
    client: httpx.AsyncClient, keys: Keys, char: str
) -> None:
    response = await client.post(
        "/api/v1/accounts",
        json=account_payload(name=f"a{char}b"),
        headers=keys.header(keys.operator),
    )
    body = _problem(response, 422, f"U+{ord(char):04X}")
    assert body["errors"] == [{"field": "name", "message": body["errors"][0]["message"]}]
    assert await _registry(client, keys) == []


async def test_lone_surrogates_are_refused_and_tab_and_newline_kept(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    raw = (
        '{"platform": "weibo", "handle": "1234567890", "name": "a\\ud800", "region_code": "220102"}'
    )
    response = await client.post(
        "/api/v1/accounts",
        content=raw.encode(),
        headers=keys.header(keys.operator) | {"content-type": "application/json"},
    )
    body = _problem(response, 422, "lone surrogate (U+D800)")
    assert body["errors"][0]["field"] == "name"
    kept = account_payload(organization="长春市\t新闻办\n宣传科")
    created = await client.post("/api/v1/accounts", json=kept, headers=keys.header(keys.operator))
    assert created.status_code == 201, created.text
    assert created.json()["organization"] == "长春市\t新闻办\n宣传科"


def _control_sheet() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["账号名称", "平台", "账号ID", "行政区划代码", "主办单位"])
    writer.writerow(["ctl\x01name", "微博", "1234567890", "220102", "单位"])
    writer.writerow(["长春发布", "微博", "1234567891", "220102", "长春市\r\n新闻办"])
    return out.getvalue().encode("utf-8")


async def test_imported_cells_with_control_characters_are_row_errors(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    report = (await _import(client, keys, _control_sheet(), "a.csv")).json()
    assert (report["created"], report["failed"]) == (1, 1), report
    [error] = report["errors"]
    assert (error["line"], error["column"]) == (2, "账号名称")
    assert "U+0001 SOH" in error["reason"]
    # A line break inside a quoted cell is a line ending, stored as "\n".
    [stored] = await _registry(client, keys)
    assert stored["organization"] == "长春市\n新闻办"

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["账号名称", "平台", "账号ID", "行政区划代码"])
    sheet.append(["del\x7fname", "微博", "1234567892", "220102"])  # XML can carry U+007F
    upload = io.BytesIO()
    book.save(upload)
    report = (await _import(client, keys, upload.getvalue(), "a.xlsx")).json()
    assert (report["failed"], report["errors"][0]["column"]) == (1, "账号名称"), report


def test_cli_import_reports_control_characters_by_line(cli_env: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "300", "NO_COLOR": "1"})
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    (cli_env / "ctl.csv").write_bytes(_control_sheet())
    result = runner.invoke(cli, ["accounts", "import", "ctl.csv", "--json"])
    assert result.exit_code == 1, result.output
    assert '"line": 2' in result.output and "U+0001" in result.output
    assert '"created": 1' in result.output


async def test_exports_clean_control_characters_already_stored(
    client: httpx.AsyncClient, keys: Keys, database: Database
) -> None:
    # Written past the API, as rows stored before the rule was: exports must still answer.
    async with database.write_session() as session:
        session.add(
            Account(
                platform="weibo",
                handle="1234567890",
                name="ctl\u0001name",
                organization="办公室\u0002",
                region_code="220102",
            )
        )
    viewer = keys.header(keys.viewer)
    xlsx = await client.get("/api/v1/accounts:export", params={"format": "xlsx"}, headers=viewer)
    assert xlsx.status_code == 200, xlsx.text
    row = [c.value for c in load_workbook(io.BytesIO(xlsx.content)).worksheets[0][2]]
    assert row[:1] == ["ctl\ufffdname"] and "办公室\ufffd" in row
    exported = await client.get("/api/v1/accounts:export", headers=viewer)
    assert exported.status_code == 200
    assert "ctl\ufffdname" in exported.content.decode("utf-8-sig")
    for form in ("xlsx", "csv"):
        summary = await client.get(
            "/api/v1/reports/summary",
            params={"group_by": "organization", "format": form},
            headers=viewer,
        )
        assert summary.status_code == 200, summary.text
        if form == "xlsx":
            cells = load_workbook(io.BytesIO(summary.content)).worksheets[0]
            assert cells["A2"].value == "办公室\ufffd"
        else:
            assert "办公室\ufffd" in summary.content.decode("utf-8-sig")
