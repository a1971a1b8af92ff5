"""Simulated government homepages at ``/website/sites/<name>/``, shaped like
tests/fixtures/website: a title, a news list with dates printed as 2024-05-01 10:23 (Beijing
time) and a footer. A closed site shows a closure notice; an empty one a page with no text; a
refused request gets a WAF page, a throttled one 429 with Retry-After; flapping sites answer
502 on every second request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from monitors.simulator.population import Population, Scenario, SimAccount

__all__ = ["PLATFORM", "SCENARIOS", "make_handle", "routes"]

PLATFORM = "website"
SCENARIOS: frozenset[Scenario] = frozenset(
    {
        Scenario.ALIVE,
        Scenario.STALE,
        Scenario.SILENT,
        Scenario.EMPTY,
        Scenario.DELETED,
        Scenario.CAPTCHA,
        Scenario.RATE_LIMITED,
        Scenario.FLAPPING,
    }
)
RETRY_AFTER_S = 60
_SHANGHAI = ZoneInfo("Asia/Shanghai")
NOT_FOUND_PAGE = "<html><head><title>404 Not Found</title></head><body>404 Not Found</body></html>"
CLOSED_PAGE = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>网站关停公告</title></head><body>'
    "<h1>该网站已关闭</h1><p>根据政府网站集约化工作要求，本网站已关停，相关信息请访问"
    '<a href="http://www.sim.gov.cn/">市政府门户网站</a>。</p></body></html>'
)
EMPTY_PAGE = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title></title>'
    '<script src="/static/app.js"></script></head><body><div id="app"></div></body></html>'
)
WAF_PAGE = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>网站防火墙</title></head><body>'
    "<h2>您的请求带有不合法参数，已被网站管理员设置拦截！</h2><p>网站防火墙 · 安全狗</p>"
    "</body></html>"
)


def make_handle(index: int) -> str:
    """A homepage path under the simulator's root; the server prefixes its base URL."""
    return f"/website/sites/site-{index:05d}/"


def render_home(account: SimAccount, now: datetime) -> str:
    """The homepage with one dated news item per scripted post."""
    items = "".join(
        f'<li><a href="zwdt/{account.post_count - i}.html">政务动态第{account.post_count - i}期'
        f"</a><span>{when.astimezone(_SHANGHAI):%Y-%m-%d %H:%M}</span></li>"
        for i, when in enumerate(account.post_times(now))
    )
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{account.display_name}</title>'
        f'</head><body><div class="header">{account.display_name}</div>'
        f'<ul class="news">{items}</ul><div class="footer">主办：{account.display_name}'
        " 网站标识码：0000000000</div></body></html>"
    )


def routes(population: Population, clock: Callable[[], datetime]) -> list[BaseRoute]:
    """The homepage endpoint under ``/website/sites``."""

    async def home(request: Request) -> Response:
        account = population.find(PLATFORM, request.url.path)
        if account is None:
            return HTMLResponse(NOT_FOUND_PAGE, status_code=404)
        fails = account.next_request_fails()
        scenario = account.scenario
        if scenario is Scenario.CAPTCHA:
            return HTMLResponse(WAF_PAGE)
        if scenario is Scenario.RATE_LIMITED:
            return PlainTextResponse(
                "Too Many Requests", status_code=429, headers={"Retry-After": str(RETRY_AFTER_S)}
            )
        if fails:
            return PlainTextResponse("502 Bad Gateway", status_code=502)
        if scenario is Scenario.DELETED:
            return HTMLResponse(CLOSED_PAGE)
        if scenario is Scenario.EMPTY:
            return HTMLResponse(EMPTY_PAGE)
        return HTMLResponse(render_home(account, clock()))

    return [Route("/website/sites/{name}/", home, methods=["GET"])]
