"""Uploads are bounded and read off the event loop (issue 16, DESIGN §12).

Hostile workbooks are built here (tests/accounts/workbooks.py): a sheet of three million rows
streamed into its zip member, a bomb of one huge cell, a single cell past the length limit, a
lying <dimension>, too many columns, a zip that lies about its sizes. Each is refused with 413
or 422 naming the limit, and the registry is left as it was.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import app as cli
from app.config import Settings, get_settings
from tests.accounts import workbooks
from tests.accounts.factories import account_payload, post_import
from tests.conftest import Keys

ROWS = 50  # LIVENESS_IMPORT_MAX_ROWS in these tests, so the limit is cheap to cross


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        max_upload_bytes=8 * 1024 * 1024,
        scheduler_enabled=False,
    )


async def _registry(client: httpx.AsyncClient, keys: Keys) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/accounts", headers=keys.header(keys.viewer))
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _import(
    client: httpx.AsyncClient, keys: Keys, data: bytes, name: str = "a.xlsx", dry_run: bool = False
) -> httpx.Response:
    return await post_import(client, keys, data, name, dry_run)


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([workbooks.HEADER, *rows])
    return out.getvalue().encode()


def test_zipfile_never_inflates_a_member_past_its_declared_size() -> None:
    # The unzipped-size check adds up declared sizes; it holds because zipfile stops reading
    # a member at its declared size and then fails its CRC.
    real = workbooks.huge_cell(1_000_000)
    lying = workbooks.lying_sizes(real, workbooks.SHEET, 1000)
    with zipfile.ZipFile(io.BytesIO(lying)) as archive:
        assert archive.getinfo(workbooks.SHEET).file_size == 1000
        read = bytearray()
        with pytest.raises(zipfile.BadZipFile, match="CRC"), archive.open(workbooks.SHEET) as f:
            while chunk := f.read(100):
                read += chunk
    assert len(read) <= 1000


HOSTILE = {
    "a 3,000,000-row sheet": (lambda: workbooks.tiny_rows(3_000_000), 413, "IMPORT_MAX_ROWS"),
    "a 300 MB cell, zipped to 0.3 MB": (
        lambda: workbooks.huge_cell(300_000_000),
        413,
        "IMPORT_MAX_UNZIPPED_BYTES",
    ),
    "a 40,000-character cell": (lambda: workbooks.huge_cell(40_000), 422, "IMPORT_MAX_CELL_CHARS"),
    # Refused from the inflated bytes, before openpyxl would hold the cell in memory.
    "a 1,000,000-character cell": (
        lambda: workbooks.huge_cell(1_000_000),
        422,
        "a cell in xl/worksheets/sheet1.xml holds more than 32,767 characters",
    ),
    "200 columns": (lambda: workbooks.wide(200), 422, "IMPORT_MAX_COLUMNS"),
    "a sheet declared smaller than it is": (
        lambda: workbooks.lying_sizes(workbooks.huge_cell(1_000_000), workbooks.SHEET, 1000),
        422,
        "damaged",
    ),
    "a row numbered 1,000,000,000": (
        lambda: workbooks.workbook(
            [workbooks.row_xml(1, workbooks.HEADER), b'<row r="1000000000"><c><v>1</v></c></row>']
        ),
        413,
        "IMPORT_MAX_ROWS",
    ),
    "a CSV cell of 40,000 characters": (
        lambda: _csv([["x" * 40_000, "微博", "1234567890", "220102"]]),
        422,
        "IMPORT_MAX_CELL_CHARS",
    ),
    "a CSV cell past csv's own field limit": (
        lambda: _csv([["x" * 200_000, "微博", "1234567890", "220102"]]),
        422,
        "IMPORT_MAX_CELL_CHARS",
    ),
    "a CSV row of 200 columns": (
        lambda: _csv([["长春发布", "微博", "1234567890", "220102", *[""] * 196]]),
        422,
        "IMPORT_MAX_COLUMNS",
    ),
    "a CSV of 300,000 rows": (
        lambda: _csv([]) + b"a\n" * 300_000,
        413,
        "IMPORT_MAX_ROWS",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_uploads_past_a_limit_are_refused_naming_it_and_change_nothing(
    client: httpx.AsyncClient, keys: Keys, case: str
) -> None:
    build, status, needle = HOSTILE[case]
    created = await client.post(
        "/api/v1/accounts", json=account_payload(), headers=keys.header(keys.operator)
    )
    assert created.status_code == 201
    before = await _registry(client, keys)
    data = build()
    name = "a.csv" if case.startswith("a CSV") else "a.xlsx"
    response = await _import(client, keys, data, name)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert needle in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "file"
    assert await _registry(client, keys) == before


async def test_a_lying_dimension_pads_nothing(client: httpx.AsyncClient, keys: Keys) -> None:
    # Read-only openpyxl trusts <dimension>: each row would be 16,384 cells wide (past the
    # column limit) and the sheet a million rows long.
    response = await _import(client, keys, workbooks.lying_dimension(rows=2))
    assert response.status_code == 200, response.text
    assert (response.json()["total"], response.json()["created"]) == (2, 2)


@pytest.fixture
def few_rows(settings: Settings) -> Settings:
    settings.import_max_rows = ROWS
    return settings


@pytest.mark.parametrize("form", ["xlsx", "csv"])
async def test_the_row_limit_counts_rows_below_the_header(
    few_rows: Settings, client: httpx.AsyncClient, keys: Keys, form: str
) -> None:
    def sheet(count: int) -> bytes:
        if form == "xlsx":
            return workbooks.workbook(
                [workbooks.row_xml(1, workbooks.HEADER), *workbooks.registry_rows(count)]
            )
        return _csv([[f"账号{n}", "微博", str(1_000_000_000 + n), "220102"] for n in range(count)])

    refused = await _import(client, keys, sheet(ROWS + 1), f"a.{form}", dry_run=True)
    assert refused.status_code == 413, refused.text
    assert f"more than {ROWS} rows" in refused.json()["detail"]
    accepted = await _import(client, keys, sheet(ROWS), f"a.{form}", dry_run=True)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["created"] == ROWS


async def test_rows_the_quick_count_misses_are_still_counted(
    few_rows: Settings, client: httpx.AsyncClient, keys: Keys
) -> None:
    # A namespace prefix hides <x:row> from the byte count before parsing; the row loop
    # holds the limit whatever the form.
    rows = [workbooks.row_xml(1, workbooks.HEADER), *workbooks.registry_rows(ROWS + 1)]
    prefixed = [r.replace(b"<row", b"<x:row").replace(b"</row", b"</x:row") for r in rows]
    head = b'<worksheet xmlns:x="' + workbooks.MAIN + b'" xmlns="' + workbooks.MAIN + b'">'
    data = workbooks.workbook(prefixed, head=head)
    response = await _import(client, keys, data, dry_run=True)
    assert response.status_code == 413, response.text


async def _healthz_while(client: httpx.AsyncClient, upload: Any) -> tuple[httpx.Response, float]:
    """The answer to ``upload`` and the slowest /healthz asked every 20 ms meanwhile.

    The app runs on this test's event loop, so each wait is timed from when the request was
    due, not from when the loop got round to sending it: a loop held up by parsing shows."""
    task = asyncio.ensure_future(upload)
    slowest = 0.0
    while not task.done():
        due = time.perf_counter() + 0.02
        await asyncio.sleep(0.02)
        assert (await client.get("/healthz")).status_code == 200
        slowest = max(slowest, time.perf_counter() - due)
    return await task, slowest


async def test_healthz_answers_while_uploads_are_read(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    # Read on the event loop, 6,000 rows took ~2 s and /healthz waited for all of it.
    large = workbooks.plain_workbook(6_000)
    response, slowest = await _healthz_while(client, _import(client, keys, large, dry_run=True))
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 6_000
    assert slowest < 0.5, f"/healthz took {slowest:.2f} s while a 6,000-row sheet was read"

    hostile = workbooks.gap_past_the_row_limit()
    response, slowest = await _healthz_while(client, _import(client, keys, hostile, dry_run=True))
    assert response.status_code == 413, response.text
    assert slowest < 0.5, f"/healthz took {slowest:.2f} s while a hostile sheet was read"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LIVENESS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("LIVENESS_IMPORT_MAX_ROWS", str(ROWS))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (workbooks.tiny_rows(ROWS + 1), f"more than {ROWS} rows below its header"),
        (workbooks.huge_cell(40_000), "more than 32,767 characters"),
        (workbooks.wide(101), "at most 100 (LIVENESS_IMPORT_MAX_COLUMNS)"),
    ],
)
def test_cli_import_holds_the_same_limits(cli_env: Path, data: bytes, needle: str) -> None:
    runner = CliRunner(env={"COLUMNS": "300", "NO_COLOR": "1"})
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    (cli_env / "hostile.xlsx").write_bytes(data)
    result = runner.invoke(cli, ["accounts", "import", "hostile.xlsx"])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output
