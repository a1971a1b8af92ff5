"""Simulated Douyin: the web profile and post-list APIs and the user page, in the shapes of
``tests/fixtures/douyin/``.

The APIs answer as if the request were signed. A captcha-scripted account gets Douyin's real
refusal, HTTP 200 with an empty body, from the APIs and the 验证码中间页 from its user page,
so the adapter's page fallback runs. Douyin has no positive "no such account" marker we know
of, so not_found is not scripted; an unknown sec_uid gets ``user: null``, which a correct
adapter reports as an error. The banned shape (a 封禁 title) is of low confidence (§2.3).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from monitors.simulator.population import Population, Scenario, SimAccount

__all__ = ["PLATFORM", "SCENARIOS", "make_handle", "routes"]

PLATFORM = "douyin"
# "outdated" is an app's scenario (a release a year old); "silent" is this platform's zombie.
SCENARIOS: frozenset[Scenario] = frozenset(Scenario) - {Scenario.NOT_FOUND, Scenario.OUTDATED}

_PINNED_AGE = timedelta(days=400)
_SPECIAL_STATE: dict[Scenario, dict[str, Any]] = {
    Scenario.PRIVATE: {
        "special_state": 4,
        "title": "私密账号",
        "content": "关注账号即可查看内容和喜欢",
    },
    Scenario.DELETED: {"special_state": 1, "title": "该账号已注销", "content": ""},
    Scenario.BANNED: {"special_state": 2, "title": "该账号已被封禁", "content": "违反社区自律公约"},
}
_CAPTCHA_PAGE = (
    '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>验证码中间页</title>'
    '</head><body><div id="captcha_container"></div></body></html>'
)


def make_handle(index: int) -> str:
    """A sec_uid-shaped handle (MS4wLjABAAAA…), unique per index."""
    return f"MS4wLjABAAAAsimGovAccount{index:010d}"


def _user(account: SimAccount) -> dict[str, Any]:
    gone = account.scenario in (Scenario.DELETED, Scenario.BANNED)
    user: dict[str, Any] = {
        "uid": str(3_000_000_000 + int(account.handle[-10:])),
        "sec_uid": account.handle,
        "unique_id": "" if gone else f"gov{account.handle[-6:]}",
        "nickname": account.display_name,
        "signature": "",
        "follower_count": account.followers,
        "mplatform_followers_count": account.followers,
        "following_count": 10,
        "aweme_count": account.post_count,
        "custom_verify": "",
        "enterprise_verify_reason": f"{account.display_name}官方账号" if account.verified else "",
        "secret": 1 if account.scenario is Scenario.PRIVATE else 0,
        "user_deleted": account.scenario is Scenario.DELETED,
        "is_ban": account.scenario is Scenario.BANNED,
    }
    if account.scenario in _SPECIAL_STATE:
        user["special_state_info"] = _SPECIAL_STATE[account.scenario]
    return user


def _aweme(account: SimAccount, number: int, moment: datetime, pinned: bool) -> dict[str, Any]:
    return {
        "aweme_id": f"7{int(account.handle[-10:]):010d}{number:08d}",
        "desc": "【置顶】办事指南" if pinned else f"政务视频第{number}条",
        "create_time": int(moment.timestamp()),
        "is_top": 1 if pinned else 0,
        "author": {"sec_uid": account.handle, "nickname": account.display_name},
        "status": {"is_delete": False, "private_status": 0, "is_prohibited": False},
    }


def _posts(account: SimAccount, now: datetime) -> dict[str, Any]:
    times = account.post_times(now)
    items = [_aweme(account, 0, now - _PINNED_AGE, True)] if times else []
    items += [_aweme(account, n, moment, False) for n, moment in enumerate(times, start=1)]
    cursor = int(times[-1].timestamp() * 1000) if times else 0
    has_more = 1 if account.post_count > len(times) else 0
    return {"status_code": 0, "has_more": has_more, "max_cursor": cursor, "aweme_list": items}


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel_key(key): _camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel(item) for item in value]
    return value


def _camel_key(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _page(account: SimAccount, now: datetime) -> str:
    """The user page with RENDER_DATA, the API's objects in camelCase (older RSSHub)."""
    posts = _posts(account, now) if account.scenario not in _SPECIAL_STATE else None
    entry = {
        "uid": account.handle,
        "user": {"statusCode": 0, "user": _camel(_user(account))},
        "post": {
            "statusCode": 0,
            "hasMore": posts["has_more"] if posts else 0,
            "data": _camel(posts["aweme_list"]) if posts else [],
        },
    }
    data = quote(json.dumps({"app": {"isSpider": False}, "41": entry}), safe="")
    return (
        f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="UTF-8"><title>'
        f"{account.display_name}的抖音 - 抖音</title></head><body>"
        f'<script id="RENDER_DATA" type="application/json">{data}</script></body></html>'
    )


def routes(population: Population, clock: Callable[[], datetime]) -> list[BaseRoute]:
    """The profile and post-list APIs and the user page under ``/douyin``."""

    def refusal(account: SimAccount, *, counts: bool = True) -> Response | None:
        # A check is a profile request then a post-list request; flapping counts checks, so
        # only the profile request advances it.
        if counts and account.next_request_fails():
            return Response("Bad Gateway", status_code=502)
        if account.scenario is Scenario.CAPTCHA:
            return Response(b"", status_code=200, media_type="application/json")
        if account.scenario is Scenario.RATE_LIMITED:
            return Response(b"", status_code=429, headers={"Retry-After": "60"})
        return None

    async def profile(request: Request) -> Response:
        account = population.find(PLATFORM, request.query_params.get("sec_user_id", ""))
        if account is None:
            return JSONResponse({"status_code": 0, "status_msg": "", "user": None})
        refused = refusal(account)
        if refused is not None:
            return refused
        return JSONResponse({"status_code": 0, "status_msg": "", "user": _user(account)})

    async def posts(request: Request) -> Response:
        account = population.find(PLATFORM, request.query_params.get("sec_user_id", ""))
        if account is None:
            return JSONResponse({"status_code": 0, "has_more": 0, "aweme_list": None})
        refused = refusal(account, counts=False)
        if refused is not None:
            return refused
        return JSONResponse(_posts(account, clock()))

    async def user_page(request: Request) -> Response:
        account = population.find(PLATFORM, request.path_params["sec_uid"])
        if account is None or account.scenario is Scenario.CAPTCHA:
            return HTMLResponse(_CAPTCHA_PAGE)
        if account.scenario is Scenario.RATE_LIMITED:
            return Response(b"", status_code=429, headers={"Retry-After": "60"})
        return HTMLResponse(_page(account, clock()))

    return [
        Route("/douyin/aweme/v1/web/user/profile/other/", profile),
        Route("/douyin/aweme/v1/web/aweme/post/", posts),
        Route("/douyin/user/{sec_uid}", user_page),
    ]
