"""The website adapter against government homepages served at their real hosts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import time_machine

from monitors.base import Observation, Outcome
from monitors.config import MonitorConfig
from monitors.website import create
from tests.monitors._app_markets import (
    HOSTILE,
    HOSTILE_IDS,
    Handler,
    Hostile,
    fixture_bytes,
    mock_client,
)

HOME = "http://www.example.gov.cn/"
NOW = datetime(2024, 5, 2, 4, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    """Year-less dates ([04-28]) and the future cut-off depend on today."""
    with time_machine.travel(NOW, tick=True):
        yield


def _serve(name: str, status: int = 200, kind: str = "text/html; charset=utf-8") -> Handler:
    body = fixture_bytes("website", name)

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": kind})

    return respond


async def _observe(
    handler: Handler, url: str = HOME, config: MonitorConfig = MonitorConfig()
) -> Observation:
    async with mock_client(handler) as client:
        return await create(config).observe(url, client)


async def test_homepage_is_ok_with_its_newest_date_and_title() -> None:
    obs = await _observe(_serve("home_ok.html"))
    assert obs.outcome is Outcome.OK
    assert obs.display_name == "某市人民政府门户网站"
    # 2024-05-01 in Beijing; 2099-01-01, 1900-01-01 and the script's 2031 date are ignored.
    assert obs.last_post_at == datetime(2024, 4, 30, 16, 0, tzinfo=UTC)
    titles = [p.title for p in obs.recent_posts]
    assert titles[:4] == [
        "市委常委会召开会议 研究部署防汛工作",
        "市政府与省属企业签署战略合作协议",
        "全市一季度经济运行情况新闻发布会召开",
        "关于2024年劳动节放假安排的通知",
    ]
    assert obs.recent_posts[3].published_at == datetime(2024, 4, 27, 16, 0, tzinfo=UTC)
    assert obs.recent_posts[0].url == "http://www.example.gov.cn/zwdt/202405/t20240501_1234567.html"
    assert len(obs.recent_posts) == 4
    assert obs.evidence.source == "page"
    assert obs.evidence.http_status == 200
    assert obs.elapsed_ms is not None


async def test_gbk_homepage_without_a_header_charset_is_decoded() -> None:
    obs = await _observe(_serve("home_gbk.html", kind="text/html"))
    assert obs.outcome is Outcome.OK
    assert obs.display_name == "某县人民政府网"
    assert obs.last_post_at == datetime(2024, 4, 25, 16, 0, tzinfo=UTC)
    assert obs.recent_posts[0].title == "县长主持召开县政府第25次常务会议"


async def test_homepage_without_dates_is_ok_with_no_last_post() -> None:
    obs = await _observe(_serve("home_undated.html"))
    assert obs.outcome is Outcome.OK
    assert obs.last_post_at is None
    assert obs.recent_posts == []


async def test_page_without_visible_text_is_empty() -> None:
    obs = await _observe(_serve("empty.html"))
    assert obs.outcome is Outcome.EMPTY
    assert obs.evidence.marker == "no visible text"


@pytest.mark.parametrize(
    ("name", "marker"), [("closed.html", "该网站已关闭"), ("migrated.html", "网站已迁移至")]
)
async def test_closure_notice_is_deleted(name: str, marker: str) -> None:
    obs = await _observe(_serve(name))
    assert obs.outcome is Outcome.DELETED
    assert obs.evidence.marker == marker
    assert obs.evidence.excerpt and marker in obs.evidence.excerpt


async def test_news_about_closed_sites_on_a_live_portal_is_ok() -> None:
    obs = await _observe(_serve("news_mentions_closure.html"))
    assert obs.outcome is Outcome.OK
    assert obs.last_post_at == datetime(2024, 4, 29, 16, 0, tzinfo=UTC)


async def test_410_gone_page_is_deleted() -> None:
    page = b"<html><head><title>410 Gone</title></head><body>Gone</body></html>"
    obs = await _observe(lambda request: httpx.Response(410, content=page))
    assert obs.outcome is Outcome.DELETED
    assert obs.evidence.marker == "HTTP 410: gone"


async def test_404_homepage_is_error_not_gone() -> None:
    obs = await _observe(lambda request: httpx.Response(404, text="<h1>404 Not Found</h1>"))
    assert obs.outcome is Outcome.ERROR
    assert obs.evidence.http_status == 404


@pytest.mark.parametrize("name", ["meta_refresh.html", "js_redirect.html"])
async def test_redirect_only_pages_are_followed(name: str) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/":
            return _serve(name)(request)
        return _serve("home_ok.html")(request)

    obs = await _observe(handler)
    assert obs.outcome is Outcome.OK
    assert len(seen) == 2
    assert obs.evidence.final_url != HOME


async def test_http_redirects_are_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "example.gov.cn":
            return httpx.Response(302, headers={"location": HOME})
        return _serve("home_ok.html")(request)

    obs = await _observe(handler, "http://example.gov.cn/")
    assert obs.outcome is Outcome.OK
    assert obs.evidence.final_url == HOME


async def test_waf_page_is_blocked() -> None:
    obs = await _observe(_serve("waf_blocked.html"))
    assert obs.outcome is Outcome.BLOCKED
    assert obs.evidence.marker == "网站防火墙"


async def test_page_slower_than_the_inspection_limit_is_error() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(2)
        return httpx.Response(200, text="<title>迟到</title><p>内容</p>")

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as client:
        obs = await create(MonitorConfig(website_timeout_s=0.1)).observe(HOME, client)
    assert obs.outcome is Outcome.ERROR
    assert obs.error and "0.1 s" in obs.error
    assert obs.evidence.marker == "timeout"


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("[Errno -2] Name or service not known"),
        httpx.ConnectError("[Errno 111] Connection refused"),
    ],
    ids=["dns", "refused"],
)
async def test_dns_failure_and_refusal_are_error_not_gone(error: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    obs = await _observe(handler)
    assert obs.outcome is Outcome.ERROR


@pytest.mark.parametrize("case", HOSTILE, ids=HOSTILE_IDS)
async def test_hostile_answers_are_never_gone(case: Hostile) -> None:
    obs = await _observe(case.respond)
    assert not obs.outcome.is_gone
    if case.name in ("truncated json", "unexpected json"):
        return  # a site may serve any text as its homepage: reachable is alive
    assert obs.outcome is case.expected, obs
    assert obs.error
