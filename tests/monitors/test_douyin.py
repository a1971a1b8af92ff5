"""The Douyin adapter against recorded-shape fixtures at https://www.douyin.com.

One test per outcome the adapter can give, the page fallback, and the hostile set, which must
give an unknown-class outcome and never a gone one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest

import monitors
from monitors.base import Outcome
from monitors.config import MonitorConfig
from monitors.douyin import DouyinMonitor

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "douyin"
NOW = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)
SEC_UID = "MS4wLjABAAAAdemoGovPoliceAccount0000000000000000001"
PROFILE_PATH = "/aweme/v1/web/user/profile/other/"
POSTS_PATH = "/aweme/v1/web/aweme/post/"

Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


def text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def load(name: str) -> Any:
    return json.loads(text(name))


def reply(name: str, status: int = 200) -> httpx.Response:
    kind = "text/html; charset=utf-8" if name.endswith(".html") else "application/json"
    return httpx.Response(status, text=text(name), headers={"content-type": kind})


def as_json(body: object, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


EMPTY_200 = httpx.Response(200, text="", headers={"content-length": "0"})


class Upstream:
    """www.douyin.com's profile and post APIs and the user page as a MockTransport handler."""

    def __init__(
        self, profile: Answer, posts: Answer | None = None, page: Answer | None = None
    ) -> None:
        self.profile = profile
        self.posts = posts or reply("posts_ok.json")
        self.page = page or reply("user_page.html")
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.url.host == "www.douyin.com"
        path = request.url.path
        if path == PROFILE_PATH:
            answer = self.profile
        elif path == POSTS_PATH:
            answer = self.posts
        elif path.startswith("/user/"):
            answer = self.page
        else:
            return httpx.Response(404)
        return answer(request) if callable(answer) else answer

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


async def observe(
    upstream: Upstream, config: MonitorConfig | None = None, sec_uid: str = SEC_UID
) -> Any:
    monitor = DouyinMonitor(config or MonitorConfig(), clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as client:
        return await monitor.observe(sec_uid, client)


# --- alive ------------------------------------------------------------------------------


async def test_ok_with_enterprise_verification_and_an_old_pinned_video() -> None:
    upstream = Upstream(reply("profile_ok.json"))
    obs = await observe(upstream)
    assert obs.outcome is Outcome.OK
    assert obs.display_name == "示范市公安"
    assert obs.verified is True
    assert obs.followers == 2345678
    assert obs.post_count == 1536
    assert obs.last_post_at == datetime.fromtimestamp(1763110800, UTC)
    assert [p.id for p in obs.recent_posts] == [
        "7400000000000000003",
        "7400000000000000002",
        "7400000000000000001",
        "7100000000000000001",
    ]
    assert [p.pinned for p in obs.recent_posts] == [False, False, False, True]
    assert obs.recent_posts[0].url == "https://www.douyin.com/video/7400000000000000003"
    assert obs.evidence.source == "api"
    assert upstream.paths() == [PROFILE_PATH, POSTS_PATH]
    posts_request = upstream.requests[1]
    assert posts_request.url.params["sec_user_id"] == SEC_UID
    assert posts_request.url.params["max_cursor"] == "0"
    assert posts_request.url.params["aid"] == "6383"
    assert "a_bogus" not in posts_request.url.params


async def test_personal_verification_counts_as_verified() -> None:
    obs = await observe(Upstream(reply("profile_personal_verify.json")))
    assert obs.outcome is Outcome.OK
    assert obs.verified is True
    assert obs.followers == 35000


async def test_a_new_pinned_video_counts_for_last_post_at() -> None:
    posts = load("posts_ok.json")
    posts["aweme_list"][0]["create_time"] = 1763170000
    obs = await observe(Upstream(reply("profile_ok.json"), as_json(posts)))
    assert obs.last_post_at == datetime.fromtimestamp(1763170000, UTC)
    assert obs.recent_posts[0].pinned is True


async def test_no_works_and_no_more_is_empty() -> None:
    obs = await observe(Upstream(reply("profile_unverified.json"), reply("posts_empty.json")))
    assert obs.outcome is Outcome.EMPTY
    assert obs.verified is False
    assert obs.followers == 3
    assert obs.evidence.marker == "aweme_list:[] has_more:0"


async def test_null_works_with_zero_works_is_empty() -> None:
    obs = await observe(Upstream(reply("profile_unverified.json"), reply("posts_null.json")))
    assert obs.outcome is Outcome.EMPTY
    assert obs.evidence.marker == "aweme_list:null"


async def test_null_works_on_an_account_with_works_is_blocked_not_gone() -> None:
    obs = await observe(Upstream(reply("profile_ok.json"), reply("posts_null.json")))
    assert obs.outcome is Outcome.BLOCKED
    assert obs.evidence.marker == "aweme_list:null"


async def test_empty_page_with_more_asks_the_next_page() -> None:
    pages = [reply("posts_empty_has_more.json"), reply("posts_ok.json")]
    upstream = Upstream(reply("profile_ok.json"), lambda request: pages.pop(0))
    obs = await observe(upstream)
    assert obs.outcome is Outcome.OK
    cursors = [r.url.params["max_cursor"] for r in upstream.requests if r.url.path == POSTS_PATH]
    assert cursors == ["0", "1762000000000"]


async def test_empty_pages_that_keep_claiming_more_are_error() -> None:
    obs = await observe(Upstream(reply("profile_ok.json"), reply("posts_empty_has_more.json")))
    assert obs.outcome is Outcome.ERROR
    assert obs.evidence.marker == "has_more:1"


async def test_private_account() -> None:
    upstream = Upstream(reply("profile_private.json"))
    obs = await observe(upstream)
    assert obs.outcome is Outcome.PRIVATE
    assert obs.evidence.marker == "secret:1"
    assert obs.display_name == "示范社区居委会"
    assert upstream.paths() == [PROFILE_PATH]  # no post list for a private account


async def test_special_state_4_alone_is_private() -> None:
    profile = load("profile_private.json")
    profile["user"]["secret"] = 0
    obs = await observe(Upstream(as_json(profile)))
    assert obs.outcome is Outcome.PRIVATE
    assert obs.evidence.marker == "special_state:4 私密账号"


# --- gone, only on the profile's flags ----------------------------------------------------


async def test_cancelled_account_is_deleted() -> None:
    obs = await observe(Upstream(reply("profile_deleted.json")))
    assert obs.outcome is Outcome.DELETED
    assert obs.evidence.marker == "user_deleted:true 该账号已注销"


async def test_special_state_1_with_a_cancel_title_is_deleted() -> None:
    profile = load("profile_deleted.json")
    del profile["user"]["user_deleted"]
    obs = await observe(Upstream(as_json(profile)))
    assert obs.outcome is Outcome.DELETED
    assert obs.evidence.marker == "special_state:1 该账号已注销"


async def test_ban_title_is_banned() -> None:
    obs = await observe(Upstream(reply("profile_banned.json")))
    assert obs.outcome is Outcome.BANNED
    assert obs.evidence.marker == "该账号已被封禁"


async def test_special_state_1_without_any_text_is_not_gone() -> None:
    profile = load("profile_deleted.json")
    del profile["user"]["user_deleted"]
    profile["user"]["special_state_info"]["title"] = ""
    profile["user"]["aweme_count"] = 5
    obs = await observe(Upstream(as_json(profile)))
    assert not obs.outcome.is_gone


# --- the page fallback ---------------------------------------------------------------------


async def test_empty_api_body_falls_back_to_the_user_page() -> None:
    upstream = Upstream(EMPTY_200)
    obs = await observe(upstream)
    assert obs.outcome is Outcome.OK
    assert obs.evidence.source == "page"
    assert obs.display_name == "示范市公安"
    assert obs.verified is True
    assert obs.followers == 2345678
    assert obs.last_post_at == datetime.fromtimestamp(1763110800, UTC)
    assert obs.recent_posts[-1].pinned is True
    page_request = upstream.requests[-1]
    assert page_request.url.path == f"/user/{SEC_UID}"
    assert page_request.headers["user-agent"] == "curl/7.86.0"


async def test_blocked_post_list_falls_back_to_the_page() -> None:
    obs = await observe(Upstream(reply("profile_ok.json"), EMPTY_200))
    assert obs.outcome is Outcome.OK
    assert obs.evidence.source == "page"


async def test_page_fallback_reads_a_private_user() -> None:
    page = text("user_page.html")
    start = page.index('json">') + len('json">')
    end = page.index("</script>", start)
    data = json.loads(unquote(page[start:end]))
    data["41"]["user"]["user"]["secret"] = 1
    private_page = page[:start] + quote(json.dumps(data), safe="") + page[end:]
    obs = await observe(Upstream(EMPTY_200, page=httpx.Response(200, text=private_page)))
    assert obs.outcome is Outcome.PRIVATE
    assert obs.evidence.source == "page"


@pytest.mark.parametrize(
    ("page", "marker"),
    [
        (reply("captcha.html"), "验证码中间页"),
        (reply("user_page_spider.html"), "isSpider"),
        (EMPTY_200, "empty body"),
        (httpx.Response(200, text="<html><body>hello</body></html>"), None),
    ],
    ids=["captcha", "spider", "empty", "no-render-data"],
)
async def test_api_and_page_both_refused_is_blocked(
    page: httpx.Response, marker: str | None
) -> None:
    obs = await observe(Upstream(EMPTY_200, page=page))
    assert obs.outcome is Outcome.BLOCKED
    assert obs.evidence.source == "page"
    assert obs.evidence.marker == marker


async def test_configured_cookie_is_sent() -> None:
    upstream = Upstream(reply("profile_ok.json"))
    await observe(upstream, MonitorConfig(douyin_cookie="ttwid=abc; msToken=def"))
    assert all(r.headers["cookie"] == "ttwid=abc; msToken=def" for r in upstream.requests)


# --- hostile ---------------------------------------------------------------------------------


def _raise(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


HOSTILE: dict[str, tuple[Answer, Outcome]] = {
    "captcha-html": (reply("captcha.html"), Outcome.BLOCKED),
    "empty-200": (EMPTY_200, Outcome.BLOCKED),
    "truncated-json": (httpx.Response(200, text='{"status_code":0,"user":{"nick'), Outcome.ERROR),
    "json-list": (as_json([]), Outcome.ERROR),
    "json-unexpected": (as_json({"status_code": 0, "user": None}), Outcome.ERROR),
    "status-code": (as_json({"status_code": 8, "status_msg": "请求参数错误"}), Outcome.ERROR),
    "403": (httpx.Response(403), Outcome.BLOCKED),
    "418": (httpx.Response(418), Outcome.BLOCKED),
    "429": (httpx.Response(429, headers={"retry-after": "30"}), Outcome.RATE_LIMITED),
    "432": (httpx.Response(432), Outcome.BLOCKED),
    "444": (httpx.Response(444), Outcome.ERROR),
    "500": (httpx.Response(500), Outcome.ERROR),
    "502": (httpx.Response(502), Outcome.ERROR),
    "reset": (_raise(httpx.ReadError("Connection reset by peer")), Outcome.ERROR),
    "timeout": (_raise(httpx.ConnectTimeout("timed out")), Outcome.ERROR),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
async def test_hostile_answers_everywhere_are_never_gone(case: str) -> None:
    """The same hostile answer from the API and the page: an unknown-class outcome."""
    answer, outcome = HOSTILE[case]
    obs = await observe(Upstream(answer, answer, answer))
    assert obs.outcome is outcome
    assert obs.outcome.is_unknown
    assert obs.error
    if case == "429":
        assert obs.evidence.retry_after_s == 30


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
async def test_hostile_post_list_is_never_gone(case: str) -> None:
    answer, outcome = HOSTILE[case]
    if case == "json-unexpected":
        answer = as_json({"status_code": 0, "aweme_list": {"oops": 1}})
    obs = await observe(Upstream(reply("profile_ok.json"), answer, answer))
    assert obs.outcome is outcome
    assert obs.last_post_at is None


# --- handles and wiring ---------------------------------------------------------------------


async def test_douyin_number_is_a_malformed_handle() -> None:
    with pytest.raises(ValueError, match="sec_uid"):
        await observe(Upstream(reply("profile_ok.json")), sec_uid="shifanshi_police")


def test_monitors_get_builds_the_adapter() -> None:
    monitor = monitors.get("douyin")
    assert monitor.platform == "douyin"
    assert monitor.validate_handle(SEC_UID) == SEC_UID
