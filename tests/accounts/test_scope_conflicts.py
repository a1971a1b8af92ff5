"""A region-scoped key that sends a (platform, handle) registered in another region learns only
that it is registered outside its scope: no id, no region, on create, patch, bulk and import.
Keys whose scope covers the existing account keep the answer that names it."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest

from app.accounts.models import Account
from app.accounts.service import REGISTERED_ELSEWHERE
from app.auth import service as auth_service
from app.auth.schemas import Role
from app.db import Database
from tests.accounts.factories import account_payload
from tests.conftest import Keys

TAKEN = "1900000001"  # the Beijing account's handle
BEIJING = "110101"
BEIJING_ID = 48151  # an id no count or line number in an answer can be mistaken for


async def _accounts(client: httpx.AsyncClient, keys: Keys, database: Database) -> int:
    """The Beijing account holding TAKEN, and the id of one in Changchun (220102)."""
    async with database.write_session() as session:
        session.add(
            Account(
                id=BEIJING_ID,
                platform="weibo",
                handle=TAKEN,
                name="东城发布",
                region_code=BEIJING,
                region_name="北京市东城区",
            )
        )
    own = await client.post(
        "/api/v1/accounts", json=account_payload(n=2), headers=keys.header(keys.admin)
    )
    assert own.status_code == 201, own.text
    return int(own.json()["id"])


def _leaks(text: str) -> list[str]:
    """What of the Beijing account an answer gives away: its id, its region."""
    return re.findall(rf"{BEIJING_ID}|1101\d\d|北京|东城", text)


def _sheet(region: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["账号名称", "平台", "账号ID", "行政区划代码"])
    writer.writerow(["长春新号", "微博", TAKEN, region])
    return out.getvalue().encode()


async def _attempt(
    path: str, client: httpx.AsyncClient, headers: dict[str, str], own_id: int
) -> httpx.Response:
    """Send TAKEN, in the scope's own region 220102, by one write path."""
    row = account_payload(n=3, handle=TAKEN)
    if path == "create":
        return await client.post("/api/v1/accounts", json=row, headers=headers)
    if path == "patch":
        change = {"handle": TAKEN}
        return await client.patch(f"/api/v1/accounts/{own_id}", json=change, headers=headers)
    if path == "bulk":
        return await client.post("/api/v1/accounts:bulk", json={"items": [row]}, headers=headers)
    return await client.post(
        "/api/v1/accounts:import",
        params={"dry_run": path == "dry-run import"},
        files={"file": ("a.csv", _sheet("220102"), "text/csv")},
        headers=headers,
    )


@pytest.mark.parametrize("path", ["create", "patch", "bulk", "import", "dry-run import"])
async def test_a_scoped_key_learns_only_that_it_exists_elsewhere(
    path: str, client: httpx.AsyncClient, keys: Keys, database: Database
) -> None:
    own_id = await _accounts(client, keys, database)
    response = await _attempt(path, client, keys.header(keys.scoped_operator), own_id)
    assert _leaks(response.text) == [], response.text
    if path in ("create", "patch"):
        assert response.status_code == 409, response.text
        problem = response.json()
        assert problem["detail"] == REGISTERED_ELSEWHERE
        assert [e["field"] for e in problem["errors"]] == ["handle"]
    elif path == "bulk":
        assert response.json()["rows"] == [
            {
                "index": 0,
                "status": "error",
                "id": None,
                "errors": [{"field": "handle", "message": REGISTERED_ELSEWHERE}],
            }
        ]
    else:
        report = response.json()
        assert report["failed"] == 1 and not report["created"] and not report["updated"]
        assert report["errors"] == [{"line": 2, "column": "账号ID", "reason": REGISTERED_ELSEWHERE}]
    beijing = await client.get(f"/api/v1/accounts/{BEIJING_ID}", headers=keys.header(keys.admin))
    assert beijing.json()["region_code"] == BEIJING and beijing.json()["name"] == "东城发布"


async def test_a_key_that_covers_the_account_is_told_which(
    client: httpx.AsyncClient, keys: Keys, database: Database
) -> None:
    own_id = await _accounts(client, keys, database)
    async with database.write_session() as session:
        _row, plain = await auth_service.create_key(
            session, name="beijing", role=Role.OPERATOR, region_prefix="1101"
        )
    for key in (keys.operator, plain):
        create = await client.post(
            "/api/v1/accounts",
            json=account_payload(n=3, handle=TAKEN, region_code="110102"),
            headers=keys.header(key),
        )
        assert create.status_code == 409
        assert f"(id {BEIJING_ID})" in create.json()["detail"]
    patch = await client.patch(
        f"/api/v1/accounts/{own_id}", json={"handle": TAKEN}, headers=keys.header(keys.operator)
    )
    assert patch.status_code == 409 and f"(id {BEIJING_ID})" in patch.json()["detail"]
    bulk = await client.post(
        "/api/v1/accounts:bulk",
        json={"items": [account_payload(handle=TAKEN, region_code="110102")]},
        headers=keys.header(plain),
    )
    assert bulk.json()["rows"] == [
        {"index": 0, "status": "updated", "id": BEIJING_ID, "errors": None}
    ]
    assert _leaks(bulk.text), "the leak detector finds the id when it is there"
