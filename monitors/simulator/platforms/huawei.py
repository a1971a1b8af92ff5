"""Simulated Huawei AppGallery web API under ``/huawei``, in the shapes of
web-drcn.hispace.dbankcloud.cn: ``POST /webedge/getInterfaceCode`` hands out a quoted code and
``GET /uowap/index?method=internal.getTabDetail&uri=app|C…`` answers the detail cards, or
``rtnCode 1002`` when the ``Interface-Code`` header does not carry the current code.

The captcha scenario is the gate that never opens: every detail request gets ``rtnCode 1002``.
An unknown or not-listed app id answers ``rtnCode 0`` with no cards.

The real ``releaseDate`` is a day ("2024/05/01"); the simulator adds the minute
("2024/05/01 13:45", Beijing time) so checks against it can compare ``last_post_at`` to the
minute. The adapter reads both forms; the fixtures keep the real one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from monitors.simulator.platforms._apps import local_release_time, refusal, version_name
from monitors.simulator.population import Population, Scenario, SimAccount

__all__ = ["INTERFACE_CODE", "PLATFORM", "SCENARIOS", "make_handle", "routes"]

PLATFORM = "huawei"
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

#: The code the simulated gate hands out and then expects as ``{code}_{unixMicros}``.
INTERFACE_CODE = "5f3e1c0b9a8d7e6f5a4b3c2d1e0f9a8b"

_JSON = "application/json;charset=UTF-8"
_GATED = '{"rtnCode":1002,"rtnDesc":"InterfaceCode Verification failed."}'


def make_handle(index: int) -> str:
    """An AppGallery app id (C + digits), unique per index."""
    return f"C{100_100_000 + index}"


def _not_listed(appid: str) -> str:
    return json.dumps(
        {
            "count": 0,
            "hasNextPage": 0,
            "layout": [],
            "layoutData": [],
            "rtnCode": 0,
            "statKey": f"appdetail_{appid}",
            "totalPages": 0,
        }
    )


def _detail(account: SimAccount, now: datetime) -> str:
    appid = account.handle
    version = version_name(account)
    cards: list[tuple[str, dict[str, Any]]] = [
        (
            "appdetailheadcard",
            {
                "appid": appid,
                "name": account.display_name,
                "starDesc": "4.5",
                "gradeCount": str(account.followers),
                "downCountDesc": "100万次安装",
            },
        ),
        (
            "appdetaildownloadcard",
            {
                "appid": appid,
                "name": account.display_name,
                "package": f"cn.gov.sim.{appid.lower()}",
                "versionName": version,
                "targetSDK": "33",
            },
        ),
        (
            "appdetailinfocard",
            {
                "developer": "模拟政务服务中心",
                "releaseDate": local_release_time(account, now).strftime("%Y/%m/%d %H:%M"),
                "size": "52.4MB",
                "versionName": version,
            },
        ),
    ]
    body = {
        "count": len(cards),
        "hasNextPage": 0,
        "layout": [{"layoutId": i, "layoutName": name} for i, (name, _) in enumerate(cards)],
        "layoutData": [
            {"dataList": [data], "layoutId": i, "layoutName": name}
            for i, (name, data) in enumerate(cards)
        ],
        "name": account.display_name,
        "rtnCode": 0,
        "statKey": f"appdetail_{appid}",
        "totalPages": 1,
    }
    return json.dumps(body, ensure_ascii=False)


def routes(population: Population, clock: Callable[[], datetime]) -> list[BaseRoute]:
    """The interface-code gate and the detail endpoint under ``/huawei``."""

    async def interface_code(request: Request) -> Response:
        return Response(f'"{INTERFACE_CODE}"', media_type=_JSON)

    async def tab_detail(request: Request) -> Response:
        if not request.headers.get("Interface-Code", "").startswith(f"{INTERFACE_CODE}_"):
            return Response(_GATED, media_type=_JSON)
        appid = request.query_params.get("appid") or request.query_params.get("uri", "")
        appid = appid.removeprefix("app|")
        account = population.find(PLATFORM, appid)
        if account is None:
            return Response(_not_listed(appid), media_type=_JSON)
        refused = refusal(account, captcha=Response(_GATED, media_type=_JSON))
        if refused is not None:
            return refused
        if account.scenario is Scenario.NOT_FOUND:
            return Response(_not_listed(appid), media_type=_JSON)
        return Response(_detail(account, clock()), media_type=_JSON)

    return [
        Route("/huawei/webedge/getInterfaceCode", interface_code, methods=["POST"]),
        Route("/huawei/uowap/index", tab_detail, methods=["GET"]),
    ]
