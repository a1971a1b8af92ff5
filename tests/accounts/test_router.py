"""The registry API: CRUD, filters, pagination, bulk upsert, validation."""

from __future__ import annotations

import httpx
import pytest

from tests.accounts.factories import HANDLES, account_payload
from tests.conftest import Keys


async def _create(client: httpx.AsyncClient, keys: Keys, **fields: object) -> dict[str, object]:
    response = await client.post(
        "/api/v1/accounts", json=account_payload(**fields), headers=keys.header(keys.operator)
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_create_get_patch_archive(client: httpx.AsyncClient, keys: Keys) -> None:
    created = await _create(client, keys)
    assert created["status"] == "active" and created["tags"] == ["重点"]
    url = f"/api/v1/accounts/{created['id']}"

    got = (await client.get(url, headers=keys.header(keys.viewer))).json()
    assert got["handle"] == "1000000001" and got["name"] == "长春发布1"

    patched = await client.patch(
        url, json={"name": "长春发布", "tags": ["a", "b"]}, headers=keys.header(keys.operator)
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "长春发布" and patched.json()["tags"] == ["a", "b"]

    deleted = await client.delete(url, headers=keys.header(keys.operator))
    assert deleted.status_code == 200 and deleted.json()["status"] == "archived"
    still_there = await client.get(url, headers=keys.header(keys.viewer))
    assert still_there.json()["status"] == "archived"


@pytest.mark.parametrize("platform", sorted(HANDLES))
async def test_every_platform_accepts_its_handle_form(
    client: httpx.AsyncClient, keys: Keys, platform: str
) -> None:
    created = await _create(client, keys, platform=platform, handle=HANDLES[platform])
    assert created["platform"] == platform


@pytest.mark.parametrize(
    ("platform", "handle", "needle"),
    [
        ("weibo", "abc", "numeric uid"),
        ("appstore", "com.tencent.mqq", "App Store app ID"),
        ("rss", "ftp://example.com/feed", "http"),
        ("website", "www.example.gov.cn", "http"),
        ("douyin", "123456", "sec_uid"),
        ("wechat", "gh_123456", "__biz"),
        ("xiaomi", "not a package", "package name"),
        ("huawei", "com.huawei.app", "C followed by digits"),
    ],
)
async def test_bad_handle_names_the_field(
    client: httpx.AsyncClient, keys: Keys, platform: str, handle: str, needle: str
) -> None:
    response = await client.post(
        "/api/v1/accounts",
        json=account_payload(platform=platform, handle=handle),
        headers=keys.header(keys.operator),
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["errors"][0]["field"] == "handle"
    assert needle in body["errors"][0]["message"]


async def test_appstore_handle_is_normalised(client: httpx.AsyncClient, keys: Keys) -> None:
    created = await _create(client, keys, platform="appstore", handle="id444934666")
    assert created["handle"] == "444934666"


async def test_unknown_platform_and_wrong_types(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.post(
        "/api/v1/accounts",
        json=account_payload(platform="myspace", check_interval_s="often"),
        headers=keys.header(keys.operator),
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"platform", "check_interval_s"} <= fields


async def test_duplicate_is_a_conflict_and_changes_nothing(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    first = await _create(client, keys)
    again = await client.post(
        "/api/v1/accounts", json=account_payload(name="另一个"), headers=keys.header(keys.operator)
    )
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "handle"
    kept = (
        await client.get(f"/api/v1/accounts/{first['id']}", headers=keys.header(keys.viewer))
    ).json()
    assert kept["name"] == "长春发布1"


async def test_patch_rechecks_handle_and_keeps_row_on_error(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    created = await _create(client, keys)
    url = f"/api/v1/accounts/{created['id']}"
    bad = await client.patch(url, json={"platform": "douyin"}, headers=keys.header(keys.operator))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "handle"
    null_name = await client.patch(url, json={"name": None}, headers=keys.header(keys.operator))
    assert null_name.status_code == 422
    unchanged = (await client.get(url, headers=keys.header(keys.viewer))).json()
    assert unchanged["platform"] == "weibo" and unchanged["name"] == "长春发布1"


async def test_get_missing_is_problem_404(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.get("/api/v1/accounts/999999", headers=keys.header(keys.viewer))
    assert response.status_code == 404
    assert response.json()["status"] == 404 and "999999" in response.json()["detail"]


async def test_filters(client: httpx.AsyncClient, keys: Keys) -> None:
    await _create(client, keys, n=1, organization="长春市政府", tags=["重点", "试点"])
    await _create(client, keys, n=2, region_code="110101", organization="东城区政府", tags=[])
    await _create(
        client,
        keys,
        n=3,
        platform="website",
        handle="https://www.changchun.gov.cn/",
        department="办公厅",
        name="长春市人民政府网站",
    )

    async def ids(**params: str) -> set[str]:
        response = await client.get(
            "/api/v1/accounts", params=params, headers=keys.header(keys.viewer)
        )
        assert response.status_code == 200, response.text
        return {a["handle"] for a in response.json()["items"]}

    assert await ids(region_code="2201") == {"1000000001", "https://www.changchun.gov.cn/"}
    assert await ids(platform="website") == {"https://www.changchun.gov.cn/"}
    assert await ids(organization="东城区政府") == {"1000000002"}
    assert await ids(department="办公厅") == {"https://www.changchun.gov.cn/"}
    assert await ids(tag="试点") == {"1000000001"}
    assert await ids(tag="试") == set()
    assert await ids(q="人民政府网") == {"https://www.changchun.gov.cn/"}
    assert await ids(q="100%") == set()
    assert await ids(status="archived") == set()


async def test_cursor_pagination_visits_every_account_once(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    for n in range(7):
        await _create(client, keys, n=n)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        body = (
            await client.get("/api/v1/accounts", params=params, headers=keys.header(keys.viewer))
        ).json()
        seen += [a["handle"] for a in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 7 and len(set(seen)) == 7


async def test_bad_cursor_and_limit(client: httpx.AsyncClient, keys: Keys) -> None:
    bad = await client.get(
        "/api/v1/accounts", params={"cursor": "garbage!"}, headers=keys.header(keys.viewer)
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "cursor"
    too_big = await client.get(
        "/api/v1/accounts", params={"limit": "100000"}, headers=keys.header(keys.viewer)
    )
    assert too_big.status_code == 422 and too_big.json()["errors"][0]["field"] == "limit"


async def test_bulk_upsert_reports_each_row(client: httpx.AsyncClient, keys: Keys) -> None:
    existing = await _create(client, keys, n=1)
    rows = [
        account_payload(n=1, name="改名了"),  # update
        account_payload(n=2),  # create
        account_payload(n=3, handle="x"),  # bad handle
        account_payload(n=2),  # duplicate of row 2 (index 1)
        account_payload(n=4, region_code="abc"),  # bad region
    ]
    response = await client.post(
        "/api/v1/accounts:bulk", json={"items": rows}, headers=keys.header(keys.operator)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    statuses = [r["status"] for r in body["rows"]]
    assert statuses == ["updated", "created", "error", "error", "error"]
    assert body["rows"][0]["id"] == existing["id"]
    assert isinstance(body["rows"][1]["id"], int)
    assert body["rows"][2]["errors"][0]["field"] == "handle"
    assert "row 2" in body["rows"][3]["errors"][0]["message"]
    assert body["rows"][4]["errors"][0]["field"] == "region_code"
    assert (body["created"], body["updated"], body["failed"]) == (1, 1, 3)

    again = await client.post(
        "/api/v1/accounts:bulk", json={"items": rows[:2]}, headers=keys.header(keys.operator)
    )
    assert [r["status"] for r in again.json()["rows"]] == ["unchanged", "unchanged"]


async def test_audit_log_records_writes(client: httpx.AsyncClient, keys: Keys) -> None:
    created = await _create(client, keys)
    await client.patch(
        f"/api/v1/accounts/{created['id']}", json={"name": "x"}, headers=keys.header(keys.operator)
    )
    forbidden = await client.get("/api/v1/audit", headers=keys.header(keys.operator))
    assert forbidden.status_code == 403
    entries = (await client.get("/api/v1/audit", headers=keys.header(keys.admin))).json()["items"]
    actions = [(e["action"], e["key_name"], e["target"]) for e in entries]
    target = f"account:{created['id']}"
    assert ("account.update", "operator", target) in actions
    assert ("account.create", "operator", target) in actions
