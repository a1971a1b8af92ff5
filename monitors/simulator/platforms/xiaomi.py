"""Simulated Xiaomi GetApps detail page (``/xiaomi/details?id=<package>``) in the shape of
app.mi.com: a listed app carries ``.bigimg-scroll-title``, its name in ``.intro-titles h3`` and
"版本号" / "更新时间" in the details list; an unknown or not-listed package gets the store's
branded "您访问的页面不存在" page.

The real 更新时间 is a day ("2024-05-01"); the simulator adds the minute ("2024-05-01 13:45",
Beijing time) so checks against it can compare ``last_post_at`` to the minute. The adapter
reads both forms; the fixtures keep the real one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from monitors.simulator.platforms._apps import local_release_time, refusal, version_name
from monitors.simulator.population import Population, Scenario, SimAccount

__all__ = ["PLATFORM", "SCENARIOS", "make_handle", "routes"]

PLATFORM = "xiaomi"
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

_HEAD = (
    '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
    '</head>\n<body>\n<div class="head"><div class="container cf">'
    '<a class="logo" href="/">小米应用商店</a></div></div>\n'
)
_FOOT = (
    '<div class="footer"><div class="container cf"><p>小米公司版权所有</p></div></div>\n'
    "</body>\n</html>\n"
)
_NOT_LISTED = (
    _HEAD.format(title="小米应用商店")
    + '<div class="main">\n  <div class="container cf">\n    <div class="error-page">\n'
    '      <p class="error-text">抱歉，您访问的页面不存在</p>\n'
    '      <a class="back-home" href="/">返回首页</a>\n    </div>\n  </div>\n</div>\n' + _FOOT
)


def make_handle(index: int) -> str:
    """An Android package name, unique per index."""
    return f"cn.gov.sim.mi{index:05d}"


def _detail(account: SimAccount, now: datetime) -> str:
    name = escape(account.display_name)
    released = local_release_time(account, now).strftime("%Y-%m-%d %H:%M")
    return (
        _HEAD.format(title=f"{name}-小米应用商店")
        + '<div class="main">\n  <div class="container cf">\n'
        '    <div class="app-intro cf"><div class="app-info"><div class="intro-titles">\n'
        f"      <p>模拟政务服务中心</p>\n      <h3>{name}</h3>\n"
        f'      <span class="app-intro-comment">(&nbsp;{account.followers}次评分&nbsp;)</span>\n'
        "    </div></div></div>\n"
        '    <div class="app-text"><div class="bigimg-scroll-title">'
        '<p class="bigimg-scroll-title-text">应用截图</p></div></div>\n'
        '    <div class="details preventDefault"><ul class="cf">\n'
        '      <li class="weight-font">软件大小</li> <li>52.40 M</li>\n'
        f'      <li class="weight-font">版本号</li> <li>{version_name(account)}</li>\n'
        f'      <li class="weight-font">更新时间</li> <li>{released}</li>\n'
        f'      <li class="weight-font">包名</li> <li>{escape(account.handle)}</li>\n'
        "    </ul></div>\n  </div>\n</div>\n" + _FOOT
    )


def routes(population: Population, clock: Callable[[], datetime]) -> list[BaseRoute]:
    """The detail page under ``/xiaomi``."""

    async def details(request: Request) -> Response:
        account = population.find(PLATFORM, request.query_params.get("id", ""))
        if account is None:
            return HTMLResponse(_NOT_LISTED)
        refused = refusal(account)
        if refused is not None:
            return refused
        if account.scenario is Scenario.NOT_FOUND:
            return HTMLResponse(_NOT_LISTED)
        return HTMLResponse(_detail(account, clock()))

    return [Route("/xiaomi/details", details, methods=["GET"])]
