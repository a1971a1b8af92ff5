"""Huawei AppGallery through its web client's JSON API (platforms.md §5.1).

Two steps: ``POST {huawei_base_url}/webedge/getInterfaceCode`` hands out a code (the body is a
JSON string), then ``GET {huawei_base_url}/uowap/index?method=internal.getTabDetail&…&uri=app|C…``
with header ``Interface-Code: {code}_{unixMicros}`` answers the app's detail cards. The code is
cached on the adapter; an answer of ``rtnCode 1002`` ("InterfaceCode Verification failed")
fetches a fresh code and retries once, and a second 1002 is blocked.

Not listed: ``rtnCode 0`` (the API's success code) with an empty ``layoutData`` list, the
answer for an app id with no detail page (the check used by public AppGallery scrapers, see
tests/fixtures/huawei/README.md). It is the only answer taken as not_found: a success code with
cards that do not describe the app, any other rtnCode, or a missing rtnCode is error.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from monitors._markets import gone, listed, shape_error
from monitors.base import Monitor, Observation, Outcome
from monitors.config import MonitorConfig
from monitors.handles import normalize_handle
from monitors.http import Fetched, fetch, guarded_observe, parse_json, parse_json_object
from monitors.parsing import parse_datetime

__all__ = ["HuaweiMonitor", "create"]

PLATFORM = "huawei"
GATED_CODE = 1002
NOT_LISTED_MARKER = "rtnCode:0 layoutData:[]"
# ASCII digits only: str.isdigit admits "²", which int() refuses.
_INTEGER = re.compile(r"\s*-?[0-9]+\s*")
APP_PAGE = "https://appgallery.huawei.com/app/{appid}"


class HuaweiMonitor:
    """Observes one AppGallery listing per call; keeps the interface code between calls."""

    platform = PLATFORM

    def __init__(self, config: MonitorConfig) -> None:
        self._code_url = f"{config.huawei_base_url}/webedge/getInterfaceCode"
        self._detail_url = f"{config.huawei_base_url}/uowap/index"
        # The current web client also sends a random Identity-Id with both requests.
        self._headers = {
            "User-Agent": config.desktop_user_agent,
            "Identity-Id": str(uuid.uuid4()),
        }
        self._code: str | None = None

    def validate_handle(self, handle: str) -> str:
        """The AppGallery app id, "C" followed by digits (a bare number gets the "C")."""
        return normalize_handle(PLATFORM, handle)

    async def observe(self, handle: str, client: httpx.AsyncClient) -> Observation:
        """Read the app's detail cards and classify them."""
        appid = self.validate_handle(handle)
        return await guarded_observe(PLATFORM, appid, lambda: self._observe(appid, client))

    async def _observe(self, appid: str, client: httpx.AsyncClient) -> Observation:
        code = self._code or await self._fresh_code(client)
        fetched = await self._tab_detail(appid, code, client)
        body = parse_json_object(fetched)
        if _rtn_code(body) == GATED_CODE:
            code = await self._fresh_code(client)
            fetched = await self._tab_detail(appid, code, client)
            body = parse_json_object(fetched)
            if _rtn_code(body) == GATED_CODE:
                self._code = None
                raise fetched.failure(
                    Outcome.BLOCKED,
                    "AppGallery refused a freshly issued interface code",
                    marker=f"rtnCode:{GATED_CODE}",
                )
        return classify(appid, fetched, body)

    async def _fresh_code(self, client: httpx.AsyncClient) -> str:
        fetched = await fetch(client, "POST", self._code_url, source="api", headers=self._headers)
        code = parse_json(fetched)
        if not isinstance(code, str) or not code.strip():
            raise shape_error(fetched, "getInterfaceCode did not answer a code string")
        self._code = code.strip()
        return self._code

    async def _tab_detail(self, appid: str, code: str, client: httpx.AsyncClient) -> Fetched:
        micros = time.time_ns() // 1000
        return await fetch(
            client,
            "GET",
            self._detail_url,
            source="api",
            headers={**self._headers, "Interface-Code": f"{code}_{micros}"},
            params={
                "method": "internal.getTabDetail",
                "serviceType": 20,
                "reqPageNum": 1,
                "maxResults": 25,
                "uri": f"app|{appid}",
                "appid": appid,
                "locale": "zh_CN",
            },
        )


def _rtn_code(body: dict[str, Any]) -> int | None:
    """rtnCode as an int; the API has sent it both as a number and as a string."""
    value = body.get("rtnCode")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


def _items(layout_data: list[Any]) -> Iterator[dict[str, Any]]:
    """Every entry of every card: card positions shift, so fields are searched, not indexed."""
    for card in layout_data:
        if isinstance(card, dict) and isinstance(card.get("dataList"), list):
            yield from (item for item in card["dataList"] if isinstance(item, dict))


def _first_text(items: list[dict[str, Any]], key: str) -> str | None:
    for item in items:
        value = item.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            text = str(value).strip()
            if text:
                return text
    return None


def classify(appid: str, fetched: Fetched, body: dict[str, Any]) -> Observation:
    """Turn a getTabDetail answer (not gated) into an Observation, or raise a Failure."""
    rtn_code = _rtn_code(body)
    if rtn_code != 0:
        description = body.get("rtnDesc")
        raise fetched.failure(
            Outcome.ERROR,
            f"AppGallery answered rtnCode {body.get('rtnCode')!r}: {description!r}",
            marker=f"rtnCode:{body.get('rtnCode')}",
        )
    layout_data = body.get("layoutData")
    if not isinstance(layout_data, list):
        raise shape_error(fetched, "no layoutData list in the detail answer")
    if not layout_data:
        return gone(PLATFORM, appid, fetched, NOT_LISTED_MARKER)
    items = list(_items(layout_data))
    own = [item for item in items if str(item.get("appid", "")).upper() == appid]
    version = _first_text(own, "versionName") or _first_text(items, "versionName")
    if not own and version is None:
        raise shape_error(fetched, f"no detail card describes {appid}")
    top_name = body.get("name")
    name = _first_text(own, "name") or (top_name if isinstance(top_name, str) else None)
    released_at = parse_datetime(
        _first_text(own, "releaseDate") or _first_text(items, "releaseDate")
    )
    return listed(
        PLATFORM,
        appid,
        fetched,
        name=name,
        version=version,
        released_at=released_at,
        url=APP_PAGE.format(appid=appid),
    )


def create(config: MonitorConfig) -> Monitor:
    """The AppGallery adapter for ``config``'s API host."""
    return HuaweiMonitor(config)
