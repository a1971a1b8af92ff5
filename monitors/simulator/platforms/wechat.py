"""Simulated WeChat sources, in the shapes of tests/fixtures/wechat:

- ``/rsshub/wechat/feeds/{biz}?format=json``: RSSHub's JSON Feed for the account (the adapter's
  source when pointed here with ``MonitorConfig.with_base``), or RSSHub's ``{"error":
  {"message"}}`` with 503 for upstream failures, captcha (WAF) and frequency messages.
- ``/wechat/mp/profile_ext``: the public profile page: 请在微信客户端打开链接 for live accounts,
  the 屏蔽 / 注销 pages for banned and deleted ones, the captcha and frequency pages.
- ``/wechat/cgi-bin/appmsgpublish``: the MP backend's double-encoded list, for runs that set
  a cookie and token.

WeChat shows no "no such account" page we know of and has no private accounts, so not_found
and private are not scripted. Only the list sources count requests for flapping.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from monitors.simulator.population import Population, Scenario, SimAccount

__all__ = ["PLATFORM", "SCENARIOS", "make_handle", "routes"]

PLATFORM = "wechat"
SCENARIOS: frozenset[Scenario] = frozenset(
    {
        Scenario.ALIVE,
        Scenario.STALE,
        Scenario.SILENT,
        Scenario.EMPTY,
        Scenario.DELETED,
        Scenario.BANNED,
        Scenario.CAPTCHA,
        Scenario.RATE_LIMITED,
        Scenario.FLAPPING,
    }
)

_MSG_PAGE = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title></title></head>'
    '<body id="activity-detail" class="zh_CN mm_appmsg not_in_mm"><div class="weui-msg">'
    '<div class="weui-msg__text-area"><h2 class="weui-msg__title">{text}</h2></div></div>'
    "</body></html>"
)
WALL_PAGE = _MSG_PAGE.format(text="请在微信客户端打开链接。")
BANNED_PAGE = _MSG_PAGE.format(text="此帐号已被屏蔽, 内容无法查看")
DELETED_PAGE = _MSG_PAGE.format(text="此帐号已自主注销，内容无法查看")
FREQUENCY_PAGE = _MSG_PAGE.format(text="操作频繁，请稍候再试")
CAPTCHA_PAGE = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>环境异常</title></head><body>'
    '<div class="weui-msg"><h2 class="weui-msg__title">环境异常</h2>'
    '<p class="weui-msg__desc">当前环境异常，完成验证后即可继续访问。</p>'
    '<a href="/mp/wappoc_appmsgcaptcha?poc_token=sim">去验证</a></div></body></html>'
)
PROFILE_PAGES = {
    Scenario.BANNED: BANNED_PAGE,
    Scenario.DELETED: DELETED_PAGE,
    Scenario.CAPTCHA: CAPTCHA_PAGE,
    Scenario.RATE_LIMITED: FREQUENCY_PAGE,
}
RSSHUB_ERRORS = {
    Scenario.CAPTCHA: "wechat-mp: request blocked by WAF: 环境异常 完成验证后即可继续访问。",
    Scenario.RATE_LIMITED: "wechat-mp: unknown page, probably due to WAF: 访问过于频繁",
}
UPSTREAM_ERROR = "Request https://github.com/hellodword/wechat-feeds/raw/feeds/{biz}.xml fail: 404"


def make_handle(index: int) -> str:
    """A __biz: base64 of a ten-digit account number, unique per index."""
    return base64.b64encode(str(3_000_000_000 + index).encode()).decode()


def _article_url(account: SimAccount, number: int) -> str:
    return f"https://mp.weixin.qq.com/s?__biz={account.handle}&mid={2247480000 + number}&idx=1"


def _json_feed(account: SimAccount, now: datetime) -> dict[str, object]:
    items = [
        {
            "id": _article_url(account, account.post_count - i),
            "url": _article_url(account, account.post_count - i),
            "title": f"政务信息第{account.post_count - i}期",
            "content_html": "<p>……</p>",
            "date_published": when.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
        }
        for i, when in enumerate(account.post_times(now))
    ]
    return {
        "version": "https://jsonfeed.org/version/1.1",
        "title": account.display_name,
        "home_page_url": "https://mp.weixin.qq.com/",
        "description": f"{account.display_name} - Made with love by RSSHub",
        "language": "zh-cn",
        "items": items,
    }


def _rsshub_error(message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message}}, status_code=503)


def _publish_page(account: SimAccount, now: datetime) -> str:
    publish_list = [
        {
            "publish_type": 101,
            "publish_info": json.dumps(
                {
                    "sent_info": {"time": int(when.timestamp())},
                    "appmsgex": [
                        {
                            "aid": f"{2247480000 + account.post_count - i}_1",
                            "title": f"政务信息第{account.post_count - i}期",
                            "link": _article_url(account, account.post_count - i),
                            "create_time": int(when.timestamp()),
                            "is_deleted": False,
                        }
                    ],
                },
                ensure_ascii=False,
            ),
        }
        for i, when in enumerate(account.post_times(now))
    ]
    return json.dumps(
        {"total_count": account.post_count, "publish_list": publish_list}, ensure_ascii=False
    )


def routes(population: Population, clock: Callable[[], datetime]) -> list[BaseRoute]:
    """RSSHub's route, the profile page and the MP backend list."""

    async def rsshub_feed(request: Request) -> Response:
        biz = request.path_params["biz"]
        account = population.find(PLATFORM, biz)
        if account is None:
            return _rsshub_error(UPSTREAM_ERROR.format(biz=biz))
        fails = account.next_request_fails()
        if account.scenario in RSSHUB_ERRORS:
            return _rsshub_error(RSSHUB_ERRORS[account.scenario])
        if fails or account.scenario in (Scenario.BANNED, Scenario.DELETED):
            return _rsshub_error(UPSTREAM_ERROR.format(biz=biz))
        return JSONResponse(_json_feed(account, clock()))

    async def profile(request: Request) -> Response:
        account = population.find(PLATFORM, request.query_params.get("__biz", ""))
        scenario = account.scenario if account else None
        return HTMLResponse(PROFILE_PAGES.get(scenario, WALL_PAGE) if scenario else WALL_PAGE)

    async def appmsgpublish(request: Request) -> Response:
        if not request.headers.get("cookie") or not request.query_params.get("token"):
            return JSONResponse({"base_resp": {"ret": 200003, "err_msg": "invalid session"}})
        account = population.find(PLATFORM, request.query_params.get("fakeid", ""))
        if account is None:
            return JSONResponse({"base_resp": {"ret": 200002, "err_msg": "invalid args"}})
        fails = account.next_request_fails()
        if account.scenario in (Scenario.RATE_LIMITED, Scenario.CAPTCHA):
            # The MP backend has no captcha page: it refuses with freq control (adapter: blocked).
            return JSONResponse({"base_resp": {"ret": 200013, "err_msg": "freq control"}})
        if fails:
            return Response("Service Unavailable", status_code=503)
        return JSONResponse(
            {
                "base_resp": {"ret": 0, "err_msg": "ok"},
                "publish_page": _publish_page(account, clock()),
            }
        )

    return [
        Route("/rsshub/wechat/feeds/{biz}", rsshub_feed, methods=["GET"]),
        Route("/wechat/mp/profile_ext", profile, methods=["GET"]),
        Route("/wechat/cgi-bin/appmsgpublish", appmsgpublish, methods=["GET"]),
    ]
