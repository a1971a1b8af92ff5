"""Simulated Weibo: m.weibo.cn's container API, the passport's visitor system and the PC
profile API, in the shapes of ``tests/fixtures/weibo/``.

getIndex answers 432 without a ``SUB`` cookie, as m.weibo.cn does (research §1.1), so the
adapter's visitor flow is exercised on every run. Gone accounts answer m.weibo.cn's ambiguous
"这里还没有内容" and carry their marker on weibo.com's ``/ajax/profile/info`` (§1.3). Weibo
has no positive marker for a private account, so that scenario is not scripted here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from monitors.parsing import SHANGHAI
from monitors.simulator.population import Population, Scenario, SimAccount

__all__ = ["PLATFORM", "SCENARIOS", "make_handle", "routes"]

PLATFORM = "weibo"
# "outdated" is an app's scenario (a release a year old); "silent" is this platform's zombie.
SCENARIOS: frozenset[Scenario] = frozenset(Scenario) - {Scenario.PRIVATE, Scenario.OUTDATED}

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PINNED_AGE = timedelta(days=400)
_NO_CONTENT = {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}
_CAPTCHA = {"ok": 0, "url": "https://security.weibo.com/captcha/geetest?entry=m&c=1"}
_SORRY = "https://weibo.com/sorry?usernotexists&code=100001"
_SORRY_MSG = {
    Scenario.DELETED: "该账号因用户自行申请关闭，现已无法查看。",
    Scenario.BANNED: "该账号因被投诉违反法律法规和《微博社区公约》的相关规定，现已无法查看。",
}
_GONE = frozenset({Scenario.NOT_FOUND, Scenario.DELETED, Scenario.BANNED})
_JSONP = "text/javascript; charset=utf-8"
_TID = "5a1c0d9e8f7b6a5c4d3e2f1a0b9c8d7e"
_VISITOR_SUB = "_2AkMsimulatorVisitorSUB"


def make_handle(index: int) -> str:
    """A 10-digit uid, unique per index."""
    return str(5_000_000_000 + index)


def _ctime(moment: datetime) -> str:
    """Weibo's created_at, e.g. "Tue Nov 10 12:00:00 +0800 2020", in Shanghai time."""
    local = moment.astimezone(SHANGHAI)
    day, month = _DAYS[local.weekday()], _MONTHS[local.month - 1]
    return f"{day} {month} {local.day:02d} {local:%H:%M:%S} +0800 {local.year}"


def _profile(account: SimAccount) -> dict[str, Any]:
    uid = account.handle
    return {
        "ok": 1,
        "data": {
            "avatar_guide": [],
            "userInfo": {
                "id": int(uid),
                "screen_name": account.display_name,
                "statuses_count": account.post_count,
                "verified": account.verified,
                "verified_type": 1 if account.verified else -1,
                "verified_reason": f"{account.display_name}官方微博" if account.verified else "",
                "description": "",
                "followers_count": _count_text(account.followers),
                "follow_count": 20,
            },
            "tabsInfo": {
                "selectedTab": 1,
                "tabs": [
                    {"id": 1, "tab_type": "profile", "containerid": f"230283{uid}"},
                    {"id": 2, "tab_type": "weibo", "title": "微博", "containerid": f"107603{uid}"},
                ],
            },
        },
    }


def _count_text(count: int) -> int | str:
    """Large counts the way m.weibo.cn prints them ("123.4万"), small ones as ints."""
    if count >= 100_000:
        return f"{count / 10_000:.1f}万"
    return count


def _card(uid: str, post_id: str, moment: datetime, text: str, pinned: bool) -> dict[str, Any]:
    bid = f"Sim{post_id[-6:]}"
    mblog: dict[str, Any] = {
        "id": post_id,
        "mid": post_id,
        "bid": bid,
        "created_at": _ctime(moment),
        "mblogtype": 2 if pinned else 0,
        "text": text,
        "isLongText": False,
        "user": {"id": int(uid)},
    }
    card: dict[str, Any] = {"card_type": 9, "itemid": f"107603{uid}_-_{post_id}", "mblog": mblog}
    card["scheme"] = f"https://m.weibo.cn/status/{bid}"
    if pinned:
        mblog["isTop"] = 1
        card["profile_type_id"] = f"proweibotop_{post_id}"
    return card


def _posts(account: SimAccount, now: datetime) -> dict[str, Any]:
    uid = account.handle
    times = account.post_times(now)
    cards = []
    if times:
        cards.append(_card(uid, f"{uid}000000", now - _PINNED_AGE, "【置顶】办事指南", True))
    for number, moment in enumerate(times, start=1):
        cards.append(_card(uid, f"{uid}{number:06d}", moment, f"政务信息第{number}条", False))
    info = {"containerid": f"107603{uid}", "total": account.post_count, "since_id": ""}
    return {"ok": 1, "data": {"cardlistInfo": info, "cards": cards}}


def _pc_profile(account: SimAccount | None) -> tuple[int, dict[str, Any]]:
    if account is None or account.scenario is Scenario.NOT_FOUND:
        return 200, {"ok": 0, "error_type": "link", "url": _SORRY}
    if account.scenario in _SORRY_MSG:
        url = f"{_SORRY}&msg={quote(_SORRY_MSG[account.scenario])}"
        return 200, {"ok": 0, "error_type": "link", "url": url}
    user = {
        "id": int(account.handle),
        "idstr": account.handle,
        "screen_name": account.display_name,
        "followers_count": account.followers,
        "statuses_count": account.post_count,
        "verified": account.verified,
        "verified_type": 1 if account.verified else -1,
    }
    return 200, {"ok": 1, "data": {"user": user}}


def routes(population: Population, clock: Callable[[], datetime]) -> list[BaseRoute]:
    """getIndex under ``/weibo``, the visitor flow under ``/weibo-passport``, and the PC
    profile under ``/weibo-pc``."""

    async def get_index(request: Request) -> Response:
        if "SUB=" not in request.headers.get("cookie", ""):
            return Response(status_code=432)
        uid = request.query_params.get("value", "")
        account = population.find(PLATFORM, uid)
        if account is None or account.scenario in _GONE:
            return JSONResponse(_NO_CONTENT)
        # A check is a profile request then a posts request; flapping counts checks, so only
        # the profile request advances it.
        is_posts = "containerid" in request.query_params
        if not is_posts and account.next_request_fails():
            return Response("Bad Gateway", status_code=502)
        if account.scenario is Scenario.CAPTCHA:
            return JSONResponse(_CAPTCHA)
        if account.scenario is Scenario.RATE_LIMITED:
            body = {"ok": 0, "msg": "请求过于频繁"}
            return JSONResponse(body, status_code=429, headers={"Retry-After": "60"})
        if "containerid" in request.query_params:
            return JSONResponse(_posts(account, clock()))
        return JSONResponse(_profile(account))

    async def profile_info(request: Request) -> Response:
        status, body = _pc_profile(population.find(PLATFORM, request.query_params.get("uid", "")))
        return JSONResponse(body, status_code=status)

    async def genvisitor(request: Request) -> Response:
        data = {"tid": _TID, "new_tid": False, "confidence": 95}
        payload = json.dumps({"msg": "succ", "data": data, "retcode": 20000000})
        return Response(f"window.gen_callback && gen_callback({payload});", media_type=_JSONP)

    async def incarnate(request: Request) -> Response:
        sub = f"{_VISITOR_SUB}{request.query_params.get('t', '')[:8]}"
        data = {"sub": sub, "subp": "0033WrSXqPxfM72-Ws9jqgMF55529P9D9WFsim"}
        payload = json.dumps({"retcode": 20000000, "msg": "succ", "data": data})
        response = Response(f"window.cross_domain && cross_domain({payload});", media_type=_JSONP)
        response.set_cookie("SUB", sub, path="/")
        response.set_cookie("SUBP", data["subp"], path="/")
        return response

    return [
        Route("/weibo/api/container/getIndex", get_index),
        Route("/weibo-pc/ajax/profile/info", profile_info),
        Route("/weibo-passport/visitor/genvisitor", genvisitor, methods=["POST"]),
        Route("/weibo-passport/visitor/visitor", incarnate),
    ]
