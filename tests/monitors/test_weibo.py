"""The Weibo adapter against recorded-shape fixtures at the real hostnames.

Every outcome the adapter can give has a test, and the hostile set (captcha, empty body, bad
JSON, refusals, transport errors) must give an unknown-class outcome, never a gone one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

import monitors
from monitors.base import Outcome
from monitors.config import MonitorConfig
from monitors.weibo import WeiboMonitor

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "weibo"
NOW = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
UID = "7000000001"
VISITOR_SUB = "_2AkMRvisitorSUBvalue"

Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


def text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def load(name: str) -> Any:
    return json.loads(text(name))


def reply(name: str, status: int = 200) -> httpx.Response:
    kind = "text/html" if name.endswith(".html") else "application/json"
    return httpx.Response(status, text=text(name), headers={"content-type": kind})


def as_json(body: object, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


class Upstream:
    """m.weibo.cn, passport.weibo.com and weibo.com as a MockTransport handler."""

    def __init__(self, profile: Answer, posts: Answer | None = None, pc: Answer | None = None):
        self.profile = profile
        self.posts = posts or reply("posts_ok.json")
        self.pc = pc or reply("pc_profile_ok.json")
        self.visitor_calls = 0
        self.requests: list[httpx.Request] = []
        self.visitor_set_cookie = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        host, path = request.url.host, request.url.path
        if host == "passport.weibo.com" and path == "/visitor/genvisitor":
            self.visitor_calls += 1
            assert request.method == "POST"
            return httpx.Response(200, text=text("genvisitor.jsonp"))
        if host == "passport.weibo.com" and path == "/visitor/visitor":
            assert request.url.params["a"] == "incarnate"
            assert request.url.params["t"] == "4eb3b3f8a2c6d1e0f9a8b7c6d5e4f3a2"
            assert request.url.params["c"] == "095"
            headers = {}
            if self.visitor_set_cookie:
                sub = f"SUB={VISITOR_SUB}{self.visitor_calls}; path=/; domain=.weibo.com"
                headers = {"set-cookie": sub}
            return httpx.Response(200, text=text("incarnate.jsonp"), headers=headers)
        if host == "m.weibo.cn" and path == "/api/container/getIndex":
            answer = self.posts if "containerid" in request.url.params else self.profile
        elif host == "weibo.com" and path == "/ajax/profile/info":
            answer = self.pc
        else:
            return httpx.Response(404)
        return answer(request) if callable(answer) else answer

    def m_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == "m.weibo.cn"]


async def observe(upstream: Upstream, config: MonitorConfig | None = None, uid: str = UID) -> Any:
    monitor = WeiboMonitor(config or MonitorConfig(), clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as client:
        return await monitor.observe(uid, client)


# --- alive ------------------------------------------------------------------------------


async def test_ok_profile_and_posts_with_old_pinned_post() -> None:
    upstream = Upstream(reply("profile_ok.json"))
    obs = await observe(upstream)
    assert obs.outcome is Outcome.OK
    assert obs.display_name == "平安示范市"
    assert obs.verified is True
    assert obs.followers == 1834562
    assert obs.post_count == 8123
    assert obs.last_post_at == datetime(2026, 11, 14, 10, 30, tzinfo=UTC)
    ids = [post.id for post in obs.recent_posts]
    assert ids == ["5093000000000003", "5093000000000002", "5093000000000001", "4600000000000001"]
    assert [post.pinned for post in obs.recent_posts] == [False, False, False, True]
    assert obs.recent_posts[0].url == "https://m.weibo.cn/status/PqRsTuVw3"
    assert obs.recent_posts[0].title.startswith("【提醒】冬季出行")
    assert obs.evidence.source == "api"
    assert obs.evidence.http_status == 200
    assert obs.elapsed_ms is not None and obs.elapsed_ms >= 0
    # the posts request used the weibo tab's container id and the visitor cookie
    posts_request = upstream.m_requests()[1]
    assert posts_request.url.params["containerid"] == "1076037000000001"
    assert posts_request.headers["cookie"] == f"SUB={VISITOR_SUB}1"
    assert posts_request.headers["mweibo-pwa"] == "1"


async def test_quoted_gone_text_in_a_repost_does_not_make_the_account_gone() -> None:
    obs = await observe(Upstream(reply("profile_ok.json")))
    assert obs.outcome is Outcome.OK
    assert obs.evidence.marker is None


async def test_a_new_pinned_post_counts_for_last_post_at() -> None:
    posts = load("posts_ok.json")
    posts["data"]["cards"][0]["mblog"]["created_at"] = "Sun Nov 15 09:15:00 +0800 2026"
    obs = await observe(Upstream(reply("profile_ok.json"), as_json(posts)))
    assert obs.last_post_at == datetime(2026, 11, 15, 1, 15, tzinfo=UTC)
    assert obs.recent_posts[0].pinned is True


async def test_counts_as_wan_strings_and_relative_dates() -> None:
    obs = await observe(Upstream(reply("profile_wan.json"), reply("posts_relative.json")))
    assert obs.outcome is Outcome.OK
    assert obs.followers == 12000
    assert obs.post_count == 15000
    assert obs.verified is True
    assert obs.last_post_at == NOW  # "刚刚"
    dates = [post.published_at for post in obs.recent_posts]
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]
    assert dates[3] == datetime(2026, 11, 14, 4, 30, tzinfo=UTC)  # 昨天 12:30
    assert dates[4] == datetime(2026, 3, 14, 16, 0, tzinfo=UTC)  # 03-15
    assert dates[5] == datetime(2019, 3, 14, 16, 0, tzinfo=UTC)  # 2019-03-15


async def test_zero_posts_is_empty() -> None:
    obs = await observe(Upstream(reply("profile_zero.json"), reply("posts_empty.json")))
    assert obs.outcome is Outcome.EMPTY
    assert obs.display_name == "示范镇人民政府"
    assert obs.verified is False
    assert obs.followers == 0
    assert obs.last_post_at is None
    assert obs.recent_posts == []


async def test_posts_tab_saying_no_content_is_empty() -> None:
    obs = await observe(Upstream(reply("profile_zero.json"), reply("no_content.json")))
    assert obs.outcome is Outcome.EMPTY
    assert obs.evidence.marker == "这里还没有内容"
    assert obs.display_name == "示范镇人民政府"


async def test_no_content_with_a_live_pc_profile_is_empty() -> None:
    upstream = Upstream(reply("no_content.json"), pc=reply("pc_profile_ok.json"))
    obs = await observe(upstream)
    assert obs.outcome is Outcome.EMPTY
    assert obs.evidence.marker == "这里还没有内容"
    assert obs.display_name == "示范区政务服务"
    assert obs.followers == 5320
    pc_request = next(r for r in upstream.requests if r.url.host == "weibo.com")
    assert pc_request.url.params["uid"] == UID
    assert pc_request.headers["cookie"].startswith("SUB=")


# --- gone, only on positive markers -------------------------------------------------------


@pytest.mark.parametrize(
    ("pc", "outcome", "marker"),
    [
        (reply("pc_sorry_complaint.json"), Outcome.BANNED, "该账号因被投诉违反"),
        (reply("pc_sorry_closed.json"), Outcome.DELETED, "该账号因用户自行申请关闭"),
        (reply("pc_sorry_notexists.json"), Outcome.NOT_FOUND, "sorry?usernotexists"),
        (reply("pc_account_problem.json", 400), Outcome.BANNED, "账号有问题"),
    ],
    ids=["complaint", "self-closed", "usernotexists", "frozen-400"],
)
async def test_no_content_confirmed_gone_by_the_pc_api(
    pc: httpx.Response, outcome: Outcome, marker: str
) -> None:
    obs = await observe(Upstream(reply("no_content.json"), pc=pc))
    assert obs.outcome is outcome
    assert obs.evidence.marker == marker
    assert obs.evidence.source == "pc-api"
    assert obs.evidence.final_url.startswith("https://weibo.com/ajax/profile/info")


@pytest.mark.parametrize(
    "pc",
    [
        httpx.Response(432),
        httpx.Response(200, text=""),
        httpx.Response(502),
        as_json({"ok": 0}),
        as_json({"ok": -100, "url": "https://passport.weibo.com/sso/signin"}),
        as_json({"ok": 0, "message": "账号有问题"}),  # the marker needs its HTTP 400
    ],
    ids=["432", "empty", "502", "ok0", "login", "problem-without-400"],
)
async def test_no_content_stays_empty_when_the_pc_api_says_nothing(pc: httpx.Response) -> None:
    obs = await observe(Upstream(reply("no_content.json"), pc=pc))
    assert obs.outcome is Outcome.EMPTY
    assert obs.evidence.marker == "这里还没有内容"


async def test_account_level_message_on_m_weibo_is_a_gone_marker() -> None:
    closed = as_json({"ok": 0, "msg": "该账号因用户自行申请关闭，现已无法查看。"})
    obs = await observe(Upstream(closed))
    assert obs.outcome is Outcome.DELETED
    assert obs.evidence.marker == "该账号因用户自行申请关闭"


async def test_gone_text_on_posts_after_a_good_profile_is_not_trusted() -> None:
    contradicting = as_json({"ok": 0, "msg": "该账号因被投诉违反法律法规"})
    obs = await observe(Upstream(reply("profile_ok.json"), contradicting))
    assert obs.outcome is Outcome.ERROR


# --- cookies ---------------------------------------------------------------------------


async def test_visitor_cookie_is_cached_on_the_adapter() -> None:
    upstream = Upstream(reply("profile_ok.json"))
    monitor = WeiboMonitor(MonitorConfig(), clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as client:
        first = await monitor.observe(UID, client)
        second = await monitor.observe(UID, client)
    assert first.outcome is second.outcome is Outcome.OK
    assert upstream.visitor_calls == 1


async def test_visitor_cookie_from_the_jsonp_body_without_set_cookie() -> None:
    upstream = Upstream(reply("profile_ok.json"))
    upstream.visitor_set_cookie = False
    obs = await observe(upstream)
    assert obs.outcome is Outcome.OK
    cookie = upstream.m_requests()[0].headers["cookie"]
    assert cookie.startswith("SUB=_2AkMRvisitorSUBvalue000") and "; SUBP=0033" in cookie


async def test_login_wall_renews_the_visitor_cookie_once_then_succeeds() -> None:
    answers = [reply("login_required.json"), reply("profile_ok.json")]
    upstream = Upstream(lambda request: answers.pop(0))
    obs = await observe(upstream)
    assert obs.outcome is Outcome.OK
    assert upstream.visitor_calls == 2
    cookies = [r.headers["cookie"] for r in upstream.m_requests()]
    assert cookies[:2] == [f"SUB={VISITOR_SUB}1", f"SUB={VISITOR_SUB}2"]


async def test_persistent_login_wall_is_auth_required_after_one_renewal() -> None:
    upstream = Upstream(reply("login_required.json"))
    obs = await observe(upstream)
    assert obs.outcome is Outcome.AUTH_REQUIRED
    assert obs.evidence.marker == "ok:-100"
    assert upstream.visitor_calls == 2
    assert len(upstream.m_requests()) == 2


async def test_configured_cookie_is_sent_and_never_renewed() -> None:
    upstream = Upstream(reply("login_required.json"))
    obs = await observe(upstream, MonitorConfig(weibo_cookie="SUB=operator; SUBP=x"))
    assert obs.outcome is Outcome.AUTH_REQUIRED
    assert upstream.visitor_calls == 0
    assert [r.headers["cookie"] for r in upstream.m_requests()] == ["SUB=operator; SUBP=x"]


async def test_redirect_to_the_visitor_system_is_blocked_after_one_renewal() -> None:
    wall = httpx.Response(
        302, headers={"location": "https://passport.weibo.com/visitor/visitor?entry=miniblog"}
    )
    upstream = Upstream(wall)
    obs = await observe(upstream)
    assert obs.outcome is Outcome.BLOCKED
    assert obs.evidence.marker.startswith("https://passport.weibo.com/visitor/")
    assert upstream.visitor_calls == 2


@pytest.mark.parametrize(
    "genvisitor",
    [
        httpx.Response(500),
        httpx.Response(200, text=""),
        httpx.Response(200, text='gen_callback({"retcode":50111,"msg":"fail","data":null});'),
        httpx.Response(432),
    ],
    ids=["500", "empty", "retcode", "432"],
)
async def test_a_failing_visitor_system_is_unknown(genvisitor: httpx.Response) -> None:
    upstream = Upstream(reply("profile_ok.json"))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/visitor/genvisitor":
            return genvisitor
        return upstream(request)

    monitor = WeiboMonitor(MonitorConfig(), clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        obs = await monitor.observe(UID, client)
    assert obs.outcome.is_unknown
    assert obs.outcome in (Outcome.BLOCKED, Outcome.ERROR)
    assert obs.error


# --- blocked and friends ------------------------------------------------------------------


async def test_captcha_url_answer_is_blocked() -> None:
    obs = await observe(Upstream(reply("captcha_json.json")))
    assert obs.outcome is Outcome.BLOCKED
    assert "security.weibo.com/captcha" in obs.evidence.marker


async def test_414_frequency_page_is_blocked() -> None:
    obs = await observe(Upstream(reply("rate_limit_414.html", 414)))
    assert obs.outcome is Outcome.BLOCKED
    assert obs.evidence.http_status == 414


async def test_ok_zero_without_message_is_blocked_not_gone() -> None:
    obs = await observe(Upstream(as_json({"ok": 0})))
    assert obs.outcome is Outcome.BLOCKED


async def test_posts_without_readable_dates_is_error() -> None:
    posts = load("posts_ok.json")
    for card in posts["data"]["cards"]:
        if "mblog" in card:
            card["mblog"]["created_at"] = "sometime"
    del posts["data"]["cards"][2]
    obs = await observe(Upstream(reply("profile_ok.json"), as_json(posts)))
    assert obs.outcome is Outcome.ERROR


def _raise(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


HOSTILE: dict[str, tuple[Answer, Outcome]] = {
    "captcha-html": (reply("visitor_system.html"), Outcome.BLOCKED),
    "empty-200": (httpx.Response(200, text=""), Outcome.BLOCKED),
    "truncated-json": (httpx.Response(200, text='{"ok": 1, "data": {"userInfo": {'), Outcome.ERROR),
    "json-list": (as_json([1, 2, 3]), Outcome.ERROR),
    "json-unexpected": (as_json({"ok": 1, "data": {"cards": []}}), Outcome.ERROR),
    "403": (httpx.Response(403), Outcome.BLOCKED),
    "418": (httpx.Response(418), Outcome.BLOCKED),
    "429": (httpx.Response(429, headers={"retry-after": "120"}), Outcome.RATE_LIMITED),
    "432": (httpx.Response(432), Outcome.BLOCKED),
    "500": (httpx.Response(500), Outcome.ERROR),
    "502": (httpx.Response(502, text="Bad Gateway"), Outcome.ERROR),
    "reset": (_raise(httpx.ReadError("Connection reset by peer")), Outcome.ERROR),
    "timeout": (_raise(httpx.ReadTimeout("timed out")), Outcome.ERROR),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
async def test_hostile_profile_answer_is_never_gone(case: str) -> None:
    answer, outcome = HOSTILE[case]
    obs = await observe(Upstream(answer))
    assert obs.outcome is outcome
    assert not obs.outcome.is_gone
    assert obs.error
    if case == "429":
        assert obs.evidence.retry_after_s == 120


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
async def test_hostile_posts_answer_is_never_gone(case: str) -> None:
    answer, outcome = HOSTILE[case]
    if case == "json-unexpected":
        answer = as_json({"ok": 1, "data": {"cardlistInfo": {}}})
    obs = await observe(Upstream(reply("profile_ok.json"), answer))
    assert obs.outcome is outcome
    assert obs.last_post_at is None


# --- handles and wiring ---------------------------------------------------------------------


async def test_malformed_handle_raises_value_error() -> None:
    with pytest.raises(ValueError, match="numeric uid"):
        await observe(Upstream(reply("profile_ok.json")), uid="weibo.com/u/abc")


def test_monitors_get_builds_the_adapter() -> None:
    monitor = monitors.get("weibo")
    assert monitor.platform == "weibo"
    assert monitor.validate_handle(" 7000000001 ") == "7000000001"
