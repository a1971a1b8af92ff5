"""Tencent 应用宝 (MyApp) through the app-info API its WeChat pages use (platforms.md §5.3).

``POST {yyb_base_url}/wechat-apkinfo`` with ``{"packagename": "<package>"}`` answers
``{"app_detail_records": {"<package>": {"app_info": {"name", "author", "update_time"},
"apk_all_data": {"version_name", "url"}}}}`` for a listed app (ImranR98/Obtainium
``lib/app_sources/tencent.dart``).

Not listed: a well-formed ``app_detail_records`` object that answers for our request with no
record, i.e. the object is empty (marker ``app_detail_records:{}``) or holds our package with
``null``. Records for other packages only, a missing ``app_detail_records``, or a record without
``app_info`` are error: the API then did not answer the question we asked.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from monitors._markets import gone, listed, shape_error
from monitors.base import Monitor, Observation
from monitors.config import MonitorConfig
from monitors.handles import normalize_handle
from monitors.http import Fetched, fetch, guarded_observe, parse_json_object
from monitors.parsing import parse_datetime

__all__ = ["YybMonitor", "create"]

PLATFORM = "yyb"
NO_RECORDS_MARKER = "app_detail_records:{}"
APP_PAGE = "https://sj.qq.com/appdetail/{package}"


class YybMonitor:
    """Observes one 应用宝 listing per call through the app-info API."""

    platform = PLATFORM

    def __init__(self, config: MonitorConfig) -> None:
        self._apkinfo_url = f"{config.yyb_base_url}/wechat-apkinfo"
        self._headers = {"User-Agent": config.mobile_user_agent, "Accept": "application/json"}

    def validate_handle(self, handle: str) -> str:
        """The Android package name, e.g. com.example.govapp."""
        return normalize_handle(PLATFORM, handle)

    async def observe(self, handle: str, client: httpx.AsyncClient) -> Observation:
        """Ask for the package's record and classify the answer."""
        package = self.validate_handle(handle)
        return await guarded_observe(PLATFORM, package, lambda: self._observe(package, client))

    async def _observe(self, package: str, client: httpx.AsyncClient) -> Observation:
        fetched = await fetch(
            client,
            "POST",
            self._apkinfo_url,
            source="api",
            headers=self._headers,
            json={"packagename": package},
        )
        return classify(package, fetched)


def _text(mapping: dict[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value).strip() or None
    return None


def classify(package: str, fetched: Fetched) -> Observation:
    """Turn an app-info answer into an Observation (ok, not_found), or raise a Failure."""
    body = parse_json_object(fetched)
    records = body.get("app_detail_records")
    if not isinstance(records, dict):
        raise shape_error(fetched, "no app_detail_records object")
    if package not in records:
        if records:
            raise shape_error(fetched, f"records for other packages, none for {package}")
        return gone(PLATFORM, package, fetched, NO_RECORDS_MARKER)
    record = records[package]
    if record is None:
        return gone(PLATFORM, package, fetched, f"app_detail_records.{package}:null")
    app_info = record.get("app_info") if isinstance(record, dict) else None
    if not isinstance(app_info, dict):
        raise shape_error(fetched, f"the record for {package} has no app_info")
    apk = record.get("apk_all_data")
    return listed(
        PLATFORM,
        package,
        fetched,
        name=_text(app_info, "name"),
        version=_text(apk, "version_name") if isinstance(apk, dict) else None,
        released_at=parse_datetime(app_info.get("update_time")),
        url=APP_PAGE.format(package=quote(package)),
    )


def create(config: MonitorConfig) -> Monitor:
    """The 应用宝 adapter for ``config``'s API host."""
    return YybMonitor(config)
