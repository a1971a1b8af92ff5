"""The WeChat adapter against MP backend, RSSHub and profile-page answers at the real hosts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from monitors.base import Observation, Outcome
from monitors.config import MonitorConfig
from monitors.wechat import create
from tests.monitors._app_markets import HOSTILE, HOSTILE_IDS, Hostile, fixture_bytes, mock_client

BIZ = "MzA3MDM3NjE5NQ=="
RSSHUB = "https://rsshub.example.org"
WITH_MP = MonitorConfig(wechat_cookie="slave_sid=abc; slave_user=gh_1", wechat_token="1234567")
WITH_RSSHUB = MonitorConfig(rsshub_url=RSSHUB)
HTML = {"content-type": "text/html; charset=utf-8"}
JSON = {"content-type": "application/json; charset=utf-8"}

Answer = tuple[int, str, dict[str, str]]


def _answer(name: str, status: int = 200) -> Answer:
    headers = JSON if name.endswith(".json") else HTML
    return status, fixture_bytes("wechat", name).decode(), headers


class Upstream:
    """Answers per source (mp, rsshub, page) and records every request."""

    def __init__(
        self, mp: Answer | None = None, rsshub: Answer | None = None, page: Answer | None = None
    ) -> None:
        self.answers = {
            "mp": mp,
            "rsshub": rsshub,
            "page": page or _answer("profile_wall.html"),
        }
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == "rsshub.example.org":
            key = "rsshub"
        elif request.url.path == "/cgi-bin/appmsgpublish":
            key = "mp"
        else:
            assert request.url.host == "mp.weixin.qq.com"
            assert request.url.path == "/mp/profile_ext"
            key = "page"
        answer = self.answers[key]
        assert answer is not None, f"unexpected request to {key}"
        status, body, headers = answer
        return httpx.Response(status, text=body, headers=headers)


async def _observe(
    handler: Callable[[httpx.Request], httpx.Response], config: MonitorConfig = MonitorConfig()
) -> Observation:
    async with mock_client(handler) as client:
        return await create(config).observe(BIZ, client)


async def test_mp_backend_double_encoded_list_is_ok() -> None:
    upstream = Upstream(mp=_answer("mp_appmsgpublish_ok.json"))
    obs = await _observe(upstream, WITH_MP)
    assert obs.outcome is Outcome.OK
    assert obs.evidence.source == "mp_api"
    assert obs.post_count == 1286
    assert obs.last_post_at == datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    assert [p.title for p in obs.recent_posts][2] == "关于开展2024年度政务公开工作的通知"
    assert len(obs.recent_posts) == 4
    assert obs.recent_posts[0].published_at == datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    (request,) = upstream.requests
    assert request.url.params["fakeid"] == BIZ
    assert request.url.params["token"] == "1234567"
    assert request.headers["cookie"].startswith("slave_sid=abc")


async def test_mp_backend_empty_list_is_empty_after_the_profile_page_shows_nothing_gone() -> None:
    upstream = Upstream(mp=_answer("mp_appmsgpublish_empty.json"))
    obs = await _observe(upstream, WITH_MP)
    assert obs.outcome is Outcome.EMPTY
    assert obs.evidence.source == "mp_api"
    assert obs.post_count == 0
    assert len(upstream.requests) == 2


async def test_mp_session_expired_is_auth_required() -> None:
    obs = await _observe(Upstream(mp=_answer("mp_ret_200003.json")), WITH_MP)
    assert obs.outcome is Outcome.AUTH_REQUIRED
    assert obs.evidence.marker == "ret=200003"
    assert obs.error and "200003" in obs.error


async def test_mp_freq_control_is_blocked() -> None:
    obs = await _observe(Upstream(mp=_answer("mp_ret_200013.json")), WITH_MP)
    assert obs.outcome is Outcome.BLOCKED
    assert obs.evidence.marker == "ret=200013 freq control"


async def test_rsshub_answers_when_the_mp_session_has_expired() -> None:
    config = MonitorConfig(wechat_cookie="c", wechat_token="t", rsshub_url=RSSHUB)
    upstream = Upstream(mp=_answer("mp_ret_200003.json"), rsshub=_answer("rsshub_feed_ok.json"))
    obs = await _observe(upstream, config)
    assert obs.outcome is Outcome.OK
    assert obs.evidence.source == "rsshub"


async def test_rsshub_json_feed_is_ok() -> None:
    upstream = Upstream(rsshub=_answer("rsshub_feed_ok.json"))
    obs = await _observe(upstream, WITH_RSSHUB)
    assert obs.outcome is Outcome.OK
    assert obs.evidence.source == "rsshub"
    assert obs.display_name == "深圳市政务服务数据管理局"
    assert obs.last_post_at == datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    assert [p.title for p in obs.recent_posts] == [
        "我市召开2024年安全生产工作会议",
        "关于开展2024年度政务公开工作的通知",
    ]
    (request,) = upstream.requests
    assert request.url.path == f"/wechat/feeds/{BIZ}"
    assert request.url.params["format"] == "json"


async def test_rsshub_route_template_is_configurable() -> None:
    config = MonitorConfig(rsshub_url=RSSHUB, wechat_rsshub_route="/wechat/bridge/{biz}")
    upstream = Upstream(rsshub=_answer("rsshub_feed_ok.json"))
    assert (await _observe(upstream, config)).outcome is Outcome.OK
    assert upstream.requests[0].url.path == f"/wechat/bridge/{BIZ}"


async def test_rsshub_empty_feed_is_empty() -> None:
    obs = await _observe(Upstream(rsshub=_answer("rsshub_feed_empty.json")), WITH_RSSHUB)
    assert obs.outcome is Outcome.EMPTY
    assert obs.evidence.marker == "no items"


async def test_rsshub_upstream_error_is_error_not_gone() -> None:
    obs = await _observe(Upstream(rsshub=_answer("rsshub_error_upstream.json", 503)), WITH_RSSHUB)
    assert obs.outcome is Outcome.ERROR
    assert obs.evidence.source == "rsshub"
    assert obs.error and "404 Not Found" in obs.error


@pytest.mark.parametrize(
    ("name", "outcome", "marker"),
    [
        ("rsshub_error_waf.json", Outcome.BLOCKED, "环境异常"),
        ("rsshub_error_freq.json", Outcome.RATE_LIMITED, "访问过于频繁"),
    ],
)
async def test_rsshub_error_messages_are_weak_hints(
    name: str, outcome: Outcome, marker: str
) -> None:
    obs = await _observe(Upstream(rsshub=_answer(name, 503)), WITH_RSSHUB)
    assert obs.outcome is outcome
    assert obs.evidence.marker == marker


async def test_rsshub_missing_route_is_a_configuration_error() -> None:
    obs = await _observe(Upstream(rsshub=_answer("rsshub_error_404.json", 404)), WITH_RSSHUB)
    assert obs.outcome is Outcome.ERROR
    assert obs.error and "wechat_rsshub_route" in obs.error


async def test_banned_profile_page_decides_when_rsshub_fails() -> None:
    upstream = Upstream(
        rsshub=_answer("rsshub_error_upstream.json", 503), page=_answer("profile_banned.html")
    )
    obs = await _observe(upstream, WITH_RSSHUB)
    assert obs.outcome is Outcome.BANNED
    assert obs.evidence.source == "page"
    assert obs.evidence.marker == "此帐号已被屏蔽"


@pytest.mark.parametrize(
    ("page", "outcome", "marker"),
    [
        ("profile_banned.html", Outcome.BANNED, "此帐号已被屏蔽"),
        ("profile_restricted.html", Outcome.BANNED, "已限制跳转到小主页"),
        ("profile_deleted.html", Outcome.DELETED, "此帐号已自主注销"),
        ("profile_deleted_infringement.html", Outcome.DELETED, "此帐号已注销"),
        ("captcha.html", Outcome.BLOCKED, "wappoc_appmsgcaptcha"),
        ("profile_freq.html", Outcome.RATE_LIMITED, "操作频繁"),
        ("profile_wall.html", Outcome.AUTH_REQUIRED, "请在微信客户端打开链接"),
    ],
)
async def test_profile_page_markers(page: str, outcome: Outcome, marker: str) -> None:
    obs = await _observe(Upstream(page=_answer(page)))
    assert obs.outcome is outcome
    assert obs.evidence.source == "page"
    assert obs.evidence.marker == marker
    assert obs.evidence.http_status == 200


async def test_migrated_account_is_not_gone_and_names_the_target() -> None:
    obs = await _observe(Upstream(page=_answer("profile_migrated.html")))
    assert obs.outcome is Outcome.ERROR
    assert obs.evidence.marker == "该公众号已迁移"
    assert obs.error and "MzkxNjU0MjQ3Mg==" in obs.error
    assert obs.evidence.excerpt and "MzkxNjU0MjQ3Mg==" in obs.evidence.excerpt


async def test_article_quoting_a_gone_marker_is_not_gone() -> None:
    article = (
        '<html><body><div id="js_content"><p>网友反映“此帐号已被屏蔽”系谣言。</p></div>'
        '<script>var ct = "1714528800";</script></body></html>'
    )
    obs = await _observe(Upstream(page=(200, article, HTML)))
    assert obs.outcome is Outcome.ERROR


async def test_captcha_redirect_is_blocked() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/mp/profile_ext":
            return httpx.Response(
                302, headers={"location": "https://mp.weixin.qq.com/mp/wappoc_appmsgcaptcha?x=1"}
            )
        return httpx.Response(200, text=fixture_bytes("wechat", "captcha.html").decode())

    obs = await _observe(handler)
    assert obs.outcome is Outcome.BLOCKED
    assert obs.evidence.marker == "wappoc_appmsgcaptcha"


@pytest.mark.parametrize(
    "config", [MonitorConfig(), WITH_RSSHUB, WITH_MP], ids=["page", "rsshub", "mp"]
)
@pytest.mark.parametrize("case", HOSTILE, ids=HOSTILE_IDS)
async def test_hostile_answers_are_unknown(case: Hostile, config: MonitorConfig) -> None:
    obs = await _observe(case.respond, config)
    assert obs.outcome.is_unknown, obs
    assert obs.error
    if case.name in (
        "captcha page",
        "403",
        "418",
        "432",
        "429 retry-after",
        "500",
        "502",
        "connection reset",
        "timeout",
    ):
        assert obs.outcome is case.expected, obs
    if case.name == "429 retry-after":
        assert obs.evidence.retry_after_s == 120.0


def test_malformed_handle_raises() -> None:
    with pytest.raises(ValueError, match="__biz"):
        create(MonitorConfig()).validate_handle("gh_1234567890ab")
