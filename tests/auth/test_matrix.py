"""Who may do what: every /api/v1 route, every role, and region scopes."""

from __future__ import annotations

import csv
import io
import re

import httpx
from fastapi import FastAPI

from tests.accounts.factories import account_payload
from tests.conftest import Keys

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
ADMIN_PREFIXES = (
    "/api/v1/keys",
    "/api/v1/audit",
    "/api/v1/webhooks",
    "/api/v1/deliveries",
    "/api/v1/events",
)
# POST routes that only read: drawing a spot-check sample changes nothing.
READ_POSTS = {"/api/v1/samples"}


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) under /api/v1, path parameters filled with 1."""
    routes = []
    for path, operations in app.openapi()["paths"].items():
        if path.startswith("/api/v1"):
            concrete = re.sub(r"\{[^}]+\}", "1", path)
            routes.extend((method.upper(), concrete) for method in sorted(operations))
    return routes


async def test_the_matrix_covers_the_api(app: FastAPI) -> None:
    routes = api_routes(app)
    assert ("GET", "/api/v1/accounts") in routes and ("POST", "/api/v1/keys") in routes
    assert len(routes) >= 12


async def test_no_key_or_bad_key_is_401_everywhere(
    app: FastAPI, client: httpx.AsyncClient, keys: Keys
) -> None:
    for method, path in api_routes(app):
        for headers in (
            {},
            {"Authorization": "Bearer lv_not-a-key"},
            {"Authorization": f"Basic {keys.admin}"},
        ):
            response = await client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers.get("www-authenticate") == "Bearer"


async def test_viewer_cannot_write_and_only_admin_manages_keys(
    app: FastAPI, client: httpx.AsyncClient, keys: Keys
) -> None:
    for method, path in api_routes(app):
        admin_only = path.startswith(ADMIN_PREFIXES)
        response = await client.request(method, path, headers=keys.header(keys.viewer))
        writes = method in WRITE_METHODS and path not in READ_POSTS
        if writes or admin_only:
            assert response.status_code == 403, (method, path, response.text)
        else:
            assert response.status_code != 403, (method, path)
        if admin_only:
            response = await client.request(method, path, headers=keys.header(keys.operator))
            assert response.status_code == 403, (method, path)


async def test_revoked_key_stops_working(client: httpx.AsyncClient, keys: Keys) -> None:
    listed = (await client.get("/api/v1/keys", headers=keys.header(keys.admin))).json()
    viewer_id = next(k["id"] for k in listed if k["name"] == "viewer")
    assert all("key" not in k and "key_hash" not in k for k in listed)
    ok = await client.get("/api/v1/accounts", headers=keys.header(keys.viewer))
    assert ok.status_code == 200
    revoked = await client.delete(f"/api/v1/keys/{viewer_id}", headers=keys.header(keys.admin))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    after = await client.get("/api/v1/accounts", headers=keys.header(keys.viewer))
    assert after.status_code == 401


async def test_admin_creates_a_key_shown_once(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.post(
        "/api/v1/keys",
        json={"name": "dashboard", "role": "viewer"},
        headers=keys.header(keys.admin),
    )
    assert response.status_code == 201
    plain = response.json()["key"]
    assert plain.startswith("lv_") and len(plain) > 40
    works = await client.get("/api/v1/accounts", headers=keys.header(plain))
    assert works.status_code == 200
    listed = (await client.get("/api/v1/keys", headers=keys.header(keys.admin))).text
    assert plain not in listed
    bad_role = await client.post(
        "/api/v1/keys", json={"name": "x", "role": "root"}, headers=keys.header(keys.admin)
    )
    assert bad_role.status_code == 422 and bad_role.json()["errors"][0]["field"] == "role"


class TestRegionScope:
    """A key scoped to 2201 sees and writes only accounts whose region code starts with it."""

    async def _seed(self, client: httpx.AsyncClient, keys: Keys) -> tuple[int, int]:
        inside = await client.post(
            "/api/v1/accounts", json=account_payload(n=1), headers=keys.header(keys.operator)
        )
        outside = await client.post(
            "/api/v1/accounts",
            json=account_payload(n=2, region_code="110101"),
            headers=keys.header(keys.operator),
        )
        return inside.json()["id"], outside.json()["id"]

    async def test_list_get_export_hide_other_regions(
        self, client: httpx.AsyncClient, keys: Keys
    ) -> None:
        inside, outside = await self._seed(client, keys)
        scoped = keys.header(keys.scoped_viewer)
        listed = (await client.get("/api/v1/accounts", headers=scoped)).json()["items"]
        assert [a["id"] for a in listed] == [inside]
        beijing = (
            await client.get("/api/v1/accounts", params={"region_code": "11"}, headers=scoped)
        ).json()["items"]
        assert beijing == []
        assert (await client.get(f"/api/v1/accounts/{outside}", headers=scoped)).status_code == 404
        assert (await client.get(f"/api/v1/accounts/{inside}", headers=scoped)).status_code == 200
        for fmt in ("csv",):
            exported = await client.get(
                "/api/v1/accounts:export", params={"format": fmt}, headers=scoped
            )
            rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
            assert [r[2] for r in rows[1:]] == ["1000000001"]

    async def test_writes_outside_are_refused_and_change_nothing(
        self, client: httpx.AsyncClient, keys: Keys
    ) -> None:
        inside, outside = await self._seed(client, keys)
        scoped = keys.header(keys.scoped_operator)
        create = await client.post(
            "/api/v1/accounts", json=account_payload(n=3, region_code="110102"), headers=scoped
        )
        assert create.status_code == 403
        assert create.json()["errors"][0]["field"] == "region_code"
        patch_out = await client.patch(
            f"/api/v1/accounts/{outside}", json={"name": "x"}, headers=scoped
        )
        assert patch_out.status_code == 404
        move_out = await client.patch(
            f"/api/v1/accounts/{inside}", json={"region_code": "110101"}, headers=scoped
        )
        assert move_out.status_code == 403
        delete_out = await client.delete(f"/api/v1/accounts/{outside}", headers=scoped)
        assert delete_out.status_code == 404
        bulk = await client.post(
            "/api/v1/accounts:bulk",
            json={"items": [account_payload(n=2, region_code="110101", name="改")]},
            headers=scoped,
        )
        assert bulk.json()["rows"][0]["status"] == "error"
        everything = (
            await client.get("/api/v1/accounts", headers=keys.header(keys.viewer))
        ).json()["items"]
        by_id = {a["id"]: a for a in everything}
        assert len(everything) == 2
        assert by_id[outside]["name"] == "长春发布2" and by_id[outside]["status"] == "active"
        assert by_id[inside]["region_code"] == "220102"
