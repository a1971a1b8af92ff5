"""Simulated Tencent 应用宝 app-info API (``POST /yyb/wechat-apkinfo``) in the shape of
upage.html5.qq.com: ``{"app_detail_records": {"<package>": {"app_info": …, "apk_all_data": …}}}``
for a listed app, and ``app_detail_records`` without the package's key for an unknown or
not-listed one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from monitors.simulator.platforms._apps import refusal, release_time, version_name
from monitors.simulator.population import Population, Scenario, SimAccount

__all__ = ["PLATFORM", "SCENARIOS", "make_handle", "routes"]

PLATFORM = "yyb"
SCENARIOS: frozenset[Scenario] = frozenset(
    {
        Scenario.ALIVE,
        Scenario.STALE,
        Scenario.SILENT,
        Scenario.OUTDATED,
        Scenario.NOT_FOUND,
        Scenario.CAPTCHA,
        Scenario.RATE_LIMITED,
        Scenario.FLAPPING,
    }
)

_NOT_LISTED: dict[str, Any] = {"app_detail_records": {}}


def make_handle(index: int) -> str:
    """An Android package name, unique per index."""
    return f"cn.gov.sim.yyb{index:05d}"


def _record(account: SimAccount, now: datetime) -> dict[str, Any]:
    version = version_name(account)
    return {
        "app_info": {
            "name": account.display_name,
            "author": "模拟政务服务中心",
            "update_time": int(release_time(account, now).timestamp()),
        },
        "apk_all_data": {
            "pkg_name": account.handle,
            "version_name": version,
            "url": f"https://imtt.dd.qq.com/sjy/{account.handle}.apk?fsname={account.handle}_{version}.apk",
        },
    }


def routes(population: Population, clock: Callable[[], datetime]) -> list[BaseRoute]:
    """The app-info endpoint under ``/yyb``."""

    async def apkinfo(request: Request) -> Response:
        try:
            package = json.loads(await request.body())["packagename"]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"ret": -1, "msg": "bad request"}, status_code=400)
        account = population.find(PLATFORM, str(package))
        if account is None:
            return JSONResponse(_NOT_LISTED)
        refused = refusal(account)
        if refused is not None:
            return refused
        if account.scenario is Scenario.NOT_FOUND:
            return JSONResponse(_NOT_LISTED)
        return JSONResponse({"app_detail_records": {account.handle: _record(account, clock())}})

    return [Route("/yyb/wechat-apkinfo", apkinfo, methods=["POST"])]
