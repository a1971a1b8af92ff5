"""A write's event and audit row come from its service: the API and the CLI cannot differ."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import app as cli
from app.config import Settings, get_settings
from tests.conftest import Keys

HEADER = "账号名称,平台,账号ID,行政区划代码\n"


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LIVENESS_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_api_and_cli_imports_write_the_same_audit_row(
    client: httpx.AsyncClient, keys: Keys, cli_env: None, tmp_path: object
) -> None:
    sheet = HEADER + "长春发布,微博,1000000001,220102\n"
    uploaded = await client.post(
        "/api/v1/accounts:import",
        files={"file": ("registry.csv", sheet.encode())},
        headers=Keys.header(keys.operator),
    )
    assert uploaded.status_code == 200, uploaded.text
    path = tmp_path / "registry.csv"  # type: ignore[operator]
    path.write_text(HEADER + "南关发布,微博,1000000002,220102\n", encoding="utf-8")
    # In a thread: the CLI runs its own event loop.
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["accounts", "import", str(path)])
    assert result.exit_code == 0, result.output

    audit = await client.get("/api/v1/audit", headers=Keys.header(keys.admin))
    rows = [e for e in audit.json()["items"] if e["action"] == "accounts.import"]
    assert sorted(e["key_name"] for e in rows) == ["cli", "operator"]
    assert {e["target"] for e in rows} == {"file:registry.csv"}
    details = [e["detail"] for e in rows]
    assert details[0] == details[1]  # one account created by each, the same figures


async def test_single_writes_announce_and_audit_in_the_service(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    operator = Keys.header(keys.operator)
    body = {"platform": "weibo", "handle": "1000000003", "name": "x", "region_code": "220102"}
    made = (await client.post("/api/v1/accounts", json=body, headers=operator)).json()
    await client.patch(f"/api/v1/accounts/{made['id']}", json={"name": "y"}, headers=operator)
    await client.delete(f"/api/v1/accounts/{made['id']}", headers=operator)
    events = await client.get("/api/v1/events", headers=Keys.header(keys.admin))
    types = [e["type"] for e in events.json()["items"] if e["account_id"] == made["id"]]
    assert sorted(types) == ["account.archived", "account.created", "account.updated"]
    audit = await client.get("/api/v1/audit", headers=Keys.header(keys.admin))
    actions = {e["action"] for e in audit.json()["items"] if e["target"] == f"account:{made['id']}"}
    assert actions == {"account.create", "account.update", "account.archive"}
