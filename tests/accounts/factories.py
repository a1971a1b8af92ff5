"""Valid account payloads for tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Keys

HANDLES = {
    "weibo": "1234567890",
    "wechat": "MzA3MDM3NjE5NQ==",
    "douyin": "MS4wLjABAAAAabcdefghijklmnopqrstuvwxyz012345",
    "appstore": "444934666",
    "huawei": "C100000001",
    "xiaomi": "com.example.gov",
    "yyb": "com.example.gov",
    "rss": "https://www.example.gov.cn/feed.xml",
    "website": "https://www.example.gov.cn/",
}


def account_payload(n: int = 1, **overrides: Any) -> dict[str, Any]:
    """A valid Weibo account in region 220102 (Changchun), unique by ``n``."""
    payload: dict[str, Any] = {
        "platform": "weibo",
        "handle": str(1_000_000_000 + n),
        "name": f"长春发布{n}",
        "organization": "长春市人民政府新闻办公室",
        "region_code": "220102",
        "region_name": "吉林省长春市南关区",
        "department": "新闻办",
        "level": "municipal",
        "category": "政务发布",
        "tags": ["重点"],
    }
    payload.update(overrides)
    return payload


async def post_import(
    client: httpx.AsyncClient, keys: Keys, data: bytes, name: str, dry_run: bool = False
) -> httpx.Response:
    """Upload ``data`` as ``name`` to the import route with the operator key."""
    return await client.post(
        "/api/v1/accounts:import",
        params={"dry_run": str(dry_run).lower()},
        files={"file": (name, data)},
        headers=keys.header(keys.operator),
        timeout=120,
    )
