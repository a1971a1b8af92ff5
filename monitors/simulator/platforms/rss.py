"""Simulated feeds at ``/rss/feeds/<name>.xml``, in the RSS 2.0 shape of tests/fixtures/rss.

A live feed lists the account's posts with RFC 822 dates (+0800); an empty feed has a channel
and no items; a missing feed is nginx's 404 page and a withdrawn one a 410 Gone page; a
refused request gets a WAF captcha page, a throttled one 429 with Retry-After.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from monitors.simulator.population import Population, Scenario, SimAccount

__all__ = ["PLATFORM", "SCENARIOS", "make_handle", "routes"]

PLATFORM = "rss"
SCENARIOS: frozenset[Scenario] = frozenset(
    {
        Scenario.ALIVE,
        Scenario.STALE,
        Scenario.SILENT,
        Scenario.EMPTY,
        Scenario.NOT_FOUND,
        Scenario.DELETED,
        Scenario.CAPTCHA,
        Scenario.RATE_LIMITED,
        Scenario.FLAPPING,
    }
)
RETRY_AFTER_S = 60
_SHANGHAI = ZoneInfo("Asia/Shanghai")
_XML = "application/rss+xml; charset=utf-8"
NOT_FOUND_PAGE = (
    "<html>\n<head><title>404 Not Found</title></head>\n<body>\n"
    "<center><h1>404 Not Found</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n"
)
GONE_PAGE = "<html><head><title>410 Gone</title></head><body><h1>Gone</h1></body></html>"
CAPTCHA_PAGE = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>访问验证</title></head><body>'
    "<h2>请完成安全验证</h2><p>您的访问频率异常，请输入验证码后继续访问。</p></body></html>"
)


def make_handle(index: int) -> str:
    """A feed path under the simulator's root; the server prefixes its base URL."""
    return f"/rss/feeds/feed-{index:05d}.xml"


def _item(account: SimAccount, number: int, when: datetime) -> str:
    link = f"http://www.sim.gov.cn/zwdt/{account.handle.rsplit('/', 1)[-1]}/{number}.html"
    date = format_datetime(when.astimezone(_SHANGHAI))
    return (
        f"<item><title>政务动态第{number}期</title><link>{link}</link>"
        f'<guid isPermaLink="true">{link}</guid><pubDate>{date}</pubDate></item>'
    )


def render_feed(account: SimAccount, now: datetime) -> str:
    """The account's feed as RSS 2.0 (no items for an empty account)."""
    items = "".join(
        _item(account, account.post_count - i, when)
        for i, when in enumerate(account.post_times(now))
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{account.display_name}</title><link>http://www.sim.gov.cn/</link>"
        f"<description>{account.display_name} 政务动态</description><language>zh-cn</language>"
        f"{items}</channel></rss>"
    )


def routes(population: Population, clock: Callable[[], datetime]) -> list[BaseRoute]:
    """The feed endpoint under ``/rss/feeds``."""

    async def feed(request: Request) -> Response:
        account = population.find(PLATFORM, request.url.path)
        if account is None:
            return HTMLResponse(NOT_FOUND_PAGE, status_code=404)
        fails = account.next_request_fails()
        scenario = account.scenario
        if scenario is Scenario.CAPTCHA:
            return HTMLResponse(CAPTCHA_PAGE)
        if scenario is Scenario.RATE_LIMITED:
            return PlainTextResponse(
                "Too Many Requests", status_code=429, headers={"Retry-After": str(RETRY_AFTER_S)}
            )
        if fails:
            return PlainTextResponse("502 Bad Gateway", status_code=502)
        if scenario is Scenario.NOT_FOUND:
            return HTMLResponse(NOT_FOUND_PAGE, status_code=404)
        if scenario is Scenario.DELETED:
            return HTMLResponse(GONE_PAGE, status_code=410)
        return Response(render_feed(account, clock()), media_type=_XML)

    return [Route("/rss/feeds/{name}", feed, methods=["GET"])]
