"""Region codes and prefixes are ASCII digits on every path that writes or filters by them:
`\\d` also matches ２ (fullwidth) and ٢ (Arabic-Indic), and an account stored with those never
matches a region scope again."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import app as cli
from app.config import Settings, get_settings
from app.main import create_app
from tests.accounts.factories import account_payload
from tests.conftest import Keys

FULLWIDTH = "２２０１０２"
ARABIC_INDIC = "٢٢٠١٠٢"
CODES = [FULLWIDTH, ARABIC_INDIC]
PREFIXES = [FULLWIDTH[:4], ARABIC_INDIC[:4]]


def _refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field], response.text


async def _stored(client: httpx.AsyncClient, keys: Keys) -> list[str]:
    listed = await client.get("/api/v1/accounts", headers=keys.header(keys.admin))
    return [a["region_code"] for a in listed.json()["items"]]


async def test_create_and_patch_refuse_other_digits(client: httpx.AsyncClient, keys: Keys) -> None:
    operator = keys.header(keys.operator)
    created = await client.post("/api/v1/accounts", json=account_payload(n=1), headers=operator)
    assert created.status_code == 201
    account_id = created.json()["id"]
    for n, code in enumerate(CODES, start=2):
        create = await client.post(
            "/api/v1/accounts", json=account_payload(n=n, region_code=code), headers=operator
        )
        _refused(create, "region_code")
        patch = await client.patch(
            f"/api/v1/accounts/{account_id}", json={"region_code": code}, headers=operator
        )
        _refused(patch, "region_code")
    assert await _stored(client, keys) == ["220102"]


async def test_bulk_and_import_report_the_row(client: httpx.AsyncClient, keys: Keys) -> None:
    operator = keys.header(keys.operator)
    items = [account_payload(n=n, region_code=code) for n, code in enumerate(CODES)]
    bulk = await client.post("/api/v1/accounts:bulk", json={"items": items}, headers=operator)
    assert bulk.status_code == 200
    rows = bulk.json()["rows"]
    assert [r["status"] for r in rows] == ["error", "error"]
    assert [[e["field"] for e in r["errors"]] for r in rows] == [["region_code"]] * 2
    sheet = io.StringIO()
    writer = csv.writer(sheet)
    writer.writerow(["账号名称", "平台", "账号ID", "行政区划代码"])
    for n, code in enumerate(CODES):
        writer.writerow([f"账号{n}", "微博", str(1_000_000_100 + n), code])
    imported = await client.post(
        "/api/v1/accounts:import",
        files={"file": ("accounts.csv", sheet.getvalue().encode(), "text/csv")},
        headers=operator,
    )
    assert imported.status_code == 200, imported.text
    report = imported.json()
    assert report["failed"] == 2 and report["created"] == 0
    assert [(e["line"], e["column"]) for e in report["errors"]] == [
        (2, "行政区划代码"),
        (3, "行政区划代码"),
    ]
    assert await _stored(client, keys) == []


async def test_key_and_webhook_prefixes_refuse_other_digits(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    admin = keys.header(keys.admin)
    for prefix in PREFIXES:
        key = {"name": "x", "role": "viewer", "region_prefix": prefix}
        _refused(await client.post("/api/v1/keys", json=key, headers=admin), "region_prefix")
        hook = {"url": "https://hooks.example.gov.cn/in", "region_prefix": prefix}
        _refused(await client.post("/api/v1/webhooks", json=hook, headers=admin), "region_prefix")
        change = {"region_prefix": prefix}
        patch = await client.patch("/api/v1/webhooks/1", json=change, headers=admin)
        _refused(patch, "region_prefix")
    listed = (await client.get("/api/v1/keys", headers=admin)).json()
    assert sorted(k["region_prefix"] or "" for k in listed) == ["", "", "", "2201", "2201"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/accounts", None),
        ("GET", "/api/v1/accounts:export", None),
        ("GET", "/api/v1/flags", None),
        ("GET", "/api/v1/reports/problems", None),
        ("POST", "/api/v1/samples", {"size": 1}),
    ],
)
async def test_filters_refuse_other_digits(
    client: httpx.AsyncClient, keys: Keys, method: str, path: str, body: dict[str, Any] | None
) -> None:
    for prefix in PREFIXES:
        if body is None:
            response = await client.request(
                method, path, params={"region_code": prefix}, headers=keys.header(keys.viewer)
            )
            _refused(response, "region_code")
        else:
            response = await client.request(
                method,
                path,
                json=body | {"filters": {"region_code": prefix}},
                headers=keys.header(keys.viewer),
            )
            _refused(response, "filters.region_code")


def _patterns(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return own + [p for value in node.values() for p in _patterns(value)]
    if isinstance(node, list):
        return [p for value in node for p in _patterns(value)]
    return []


def test_no_schema_pattern_takes_any_unicode_digit() -> None:
    document = create_app(Settings(_env_file=None, database_url="sqlite+aiosqlite://")).openapi()
    patterns = _patterns(document)
    assert "^[0-9]{1,6}$" in patterns  # the region filters are found
    assert [p for p in patterns if "\\d" in p] == []


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("LIVENESS_DATABASE_URL", f"sqlite:///{db}")
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def test_the_key_command_refuses_other_digits(sqlite_env: Path) -> None:
    runner = CliRunner(env={"NO_COLOR": "1"})
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    for prefix in PREFIXES:
        result = runner.invoke(cli, ["keys", "create", "--role", "viewer", "--region", prefix])
        assert result.exit_code == 2 and "ASCII digits" in result.output, result.output
    assert "lv_" not in runner.invoke(cli, ["keys", "list"]).output
