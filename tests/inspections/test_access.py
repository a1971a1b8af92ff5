"""Who may take, read and delete inspections; region scopes; bad input changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.db import Database
from tests.conftest import Keys
from tests.inspections.history import T, seed_history


async def _post(client: httpx.AsyncClient, key: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/api/v1/inspections", json=body, headers=Keys.header(key))


async def _count(client: httpx.AsyncClient, keys: Keys) -> int:
    listed = await client.get("/api/v1/inspections", headers=Keys.header(keys.admin))
    return len(listed.json()["items"])


async def test_a_scoped_key_inspects_and_sees_its_region_only(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    await seed_history(database)
    national = (await _post(client, keys.operator, {"name": "全国", "at": T.isoformat()})).json()
    own = await _post(client, keys.scoped_operator, {"name": "长春", "at": T.isoformat()})
    assert own.status_code == 201, own.text
    mine = own.json()
    assert mine["scope"]["region_prefix"] == "2201"  # the key's region by default
    assert (mine["accounts_in_scope"], mine["checked"], mine["passing"]) == (7, 6, 4)
    narrower = await _post(
        client, keys.scoped_operator, {"name": "南关", "scope": {"region_prefix": "220102"}}
    )
    assert narrower.status_code == 201
    for prefix in ("22", "11"):  # wider than the key's region, and elsewhere
        body = {"name": prefix, "scope": {"region_prefix": prefix}}
        refused = await _post(client, keys.scoped_operator, body)
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["field"] == "scope.region_prefix"

    scoped = Keys.header(keys.scoped_viewer)
    listed = (await client.get("/api/v1/inspections", headers=scoped)).json()["items"]
    assert sorted(i["name"] for i in listed) == ["南关", "长春"]
    hidden = await client.get(f"/api/v1/inspections/{national['id']}", headers=scoped)
    assert hidden.status_code == 404
    for suffix in ("/export", "/bulletin.docx"):
        path = f"/api/v1/inspections/{national['id']}{suffix}"
        assert (await client.get(path, headers=scoped)).status_code == 404
    result = (await client.get(f"/api/v1/inspections/{mine['id']}", headers=scoped)).json()
    assert {a["region_code"][:4] for a in result["accounts"]} == {"2201"}
    assert await _count(client, keys) == 3


async def test_roles_and_an_audited_delete(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    await seed_history(database)
    viewer = await _post(client, keys.viewer, {"name": "x"})
    assert viewer.status_code == 403
    first = (await _post(client, keys.operator, {"name": "一", "at": T.isoformat()})).json()
    second = (await _post(client, keys.operator, {"name": "二"})).json()
    assert second["previous_id"] == first["id"]
    path = f"/api/v1/inspections/{first['id']}"

    assert (await client.delete(path, headers=Keys.header(keys.operator))).status_code == 403
    blocked = await client.delete(path, headers=Keys.header(keys.admin))
    assert blocked.status_code == 409, blocked.text  # the second measures against it
    later = f"/api/v1/inspections/{second['id']}"
    assert (await client.delete(later, headers=Keys.header(keys.admin))).status_code == 204
    assert (await client.delete(path, headers=Keys.header(keys.admin))).status_code == 204
    assert (await client.get(path, headers=Keys.header(keys.admin))).status_code == 404
    assert await _count(client, keys) == 0
    audit = (await client.get("/api/v1/audit", headers=Keys.header(keys.admin))).json()["items"]
    actions = [(e["action"], e["target"]) for e in audit if e["action"].startswith("inspection.")]
    assert ("inspection.delete", f"inspection:{first['id']}") in actions
    assert ("inspection.create", f"inspection:{second['id']}") in actions


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x", "unknown": 1}, "unknown"),
        ({"name": "x", "at": "2026-06-30T00:00:00"}, "at"),
        ({"name": "x", "at": "9999-12-31T23:59:59-12:00"}, "at"),
        ({"name": "x", "scope": {"region_prefix": "２２"}}, "scope.region_prefix"),
        ({"name": "x", "scope": {"platforms": ["myspace"]}}, "scope.platforms.0"),
        ({"name": "x", "scope": {"levels": ["galactic"]}}, "scope.levels.0"),
        ({"name": "x", "scope": {"departments": [""]}}, "scope.departments"),
        ({"name": "x", "sample": {"ratio": 0.5, "size": 3}}, "sample"),
        ({"name": "x", "sample": {}}, "sample"),
        ({"name": "x", "sample": {"ratio": 1.5}}, "sample.ratio"),
        ({"name": "x", "sample": {"size": 3, "seed": -1}}, "sample.seed"),
        ({"name": "bad\u0001name"}, "name"),
        ({"name": "x", "at": "2999-01-01T00:00:00+08:00"}, "at"),
        ({"name": "x", "ratio": 0.5, "sample": {"size": 2}}, ""),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, database: Database, keys: Keys, body: dict[str, Any], field: str
) -> None:
    await seed_history(database)
    response = await _post(client, keys.operator, body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = [e.get("field") for e in response.json().get("errors") or []]
    assert any(f and f.startswith(field) for f in fields), fields
    assert await _count(client, keys) == 0


async def test_scope_and_sample_fields_may_be_given_flat(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    await seed_history(database)
    body = {"name": "x", "region_prefix": "22", "platforms": ["weibo"], "ratio": 1, "seed": 5}
    made = await _post(client, keys.operator, body)
    assert made.status_code == 201, made.text
    row = made.json()
    assert row["scope"]["region_prefix"] == "22" and row["scope"]["platforms"] == ["weibo"]
    assert row["sample"]["seed"] == 5 and row["sample"]["ratio"] == 1


async def test_missing_and_malformed_ids(client: httpx.AsyncClient, keys: Keys) -> None:
    viewer = Keys.header(keys.viewer)
    assert (await client.get("/api/v1/inspections/999", headers=viewer)).status_code == 404
    assert (await client.get("/api/v1/inspections/0", headers=viewer)).status_code == 422
    export = await client.get("/api/v1/inspections/1/export?format=pdf", headers=viewer)
    assert export.status_code == 422
    assert (await client.get("/api/v1/inspections?cursor=nope", headers=viewer)).status_code == 400
