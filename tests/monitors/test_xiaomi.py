"""The GetApps adapter against recorded-shape detail pages at app.mi.com."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

import monitors
from monitors.base import Observation, Outcome
from monitors.config import MonitorConfig
from monitors.xiaomi import create
from tests.monitors._app_markets import (
    HOSTILE,
    HOSTILE_IDS,
    Handler,
    Hostile,
    fixture_bytes,
    mock_client,
)

PACKAGE = "cn.gov.zwfw.app"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _page(name: str, status: int = 200) -> Handler:
    return _html(fixture_bytes("xiaomi", name).decode(), status)


def _html(html: str, status: int = 200) -> Handler:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, content=html.encode(), headers={"content-type": "text/html; charset=utf-8"}
        )

    return respond


async def _observe(handler: Handler, handle: str = PACKAGE) -> Observation:
    async with mock_client(handler) as client:
        return await create(MonitorConfig()).observe(handle, client)


async def test_listed_app_is_ok_with_name_version_and_update_date() -> None:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _page("ok.html")(request)

    obs = await _observe(respond)

    assert obs.outcome is Outcome.OK
    assert obs.display_name == "国家政务服务平台"
    assert obs.last_post_at == datetime(2024, 5, 1, tzinfo=SHANGHAI)
    assert obs.followers is None and obs.post_count is None
    (post,) = obs.recent_posts
    assert post.id == "3.2.1"
    assert post.title == "国家政务服务平台 3.2.1"
    assert post.url == "https://app.mi.com/details?id=cn.gov.zwfw.app"
    assert obs.evidence.source == "page" and obs.evidence.http_status == 200
    (request,) = seen
    assert request.url.host == "app.mi.com"
    assert request.url.path == "/details"
    assert request.url.params["id"] == PACKAGE


async def test_update_time_with_minutes_and_colon_labels_is_read() -> None:
    html = fixture_bytes("xiaomi", "ok.html").decode()
    html = html.replace("<li>2024-05-01</li>", "<li>2024-05-01 13:45</li>")
    html = html.replace(">版本号<", ">版本号：<").replace(">更新时间<", ">更新时间：<")
    obs = await _observe(_html(html))
    assert obs.outcome is Outcome.OK
    assert obs.last_post_at == datetime(2024, 5, 1, 13, 45, tzinfo=SHANGHAI)
    assert obs.recent_posts[0].id == "3.2.1"


async def test_listing_without_details_is_ok_without_a_date() -> None:
    html = fixture_bytes("xiaomi", "ok.html").decode()
    start = html.index('<div class="details')
    html = html[:start] + html[html.index("</ul>", start) + len("</ul>\n    </div>") :]
    obs = await _observe(_html(html))
    assert obs.outcome is Outcome.OK
    assert obs.display_name == "国家政务服务平台"
    assert obs.last_post_at is None
    assert obs.recent_posts == []


async def test_store_not_found_page_is_not_found_with_its_wording() -> None:
    obs = await _observe(_page("not_found.html"))
    assert obs.outcome is Outcome.NOT_FOUND
    assert obs.evidence.marker == "您访问的页面不存在"
    assert "您访问的页面不存在" in (obs.evidence.excerpt or "")


async def test_store_not_found_page_served_as_404_is_not_found() -> None:
    obs = await _observe(_page("not_found.html", status=404))
    assert obs.outcome is Outcome.NOT_FOUND
    assert obs.evidence.http_status == 404


async def test_bare_404_without_the_store_page_is_an_error() -> None:
    obs = await _observe(_page("generic_404.html", status=404))
    assert obs.outcome is Outcome.ERROR
    assert obs.evidence.http_status == 404


async def test_unbranded_page_saying_not_found_is_an_error() -> None:
    obs = await _observe(_html("<html><body><h1>页面不存在</h1></body></html>"))
    assert obs.outcome is Outcome.ERROR


async def test_store_page_without_listing_or_not_found_wording_is_an_error() -> None:
    obs = await _observe(_page("unknown_page.html"))
    assert obs.outcome is Outcome.ERROR
    assert obs.error


async def test_listing_page_served_with_404_is_an_error() -> None:
    obs = await _observe(_page("ok.html", status=404))
    assert obs.outcome is Outcome.ERROR


@pytest.mark.parametrize("case", HOSTILE, ids=HOSTILE_IDS)
async def test_hostile_answers_are_never_gone(case: Hostile) -> None:
    obs = await _observe(case.respond)
    assert obs.outcome is case.expected, (obs.outcome, obs.error, obs.evidence)
    assert obs.error
    if case.expected is Outcome.RATE_LIMITED:
        assert obs.evidence.retry_after_s == 120


async def test_frequency_page_is_rate_limited() -> None:
    obs = await _observe(_html("<html><title>小米应用商店</title><p>访问过于频繁，请稍后再试</p>"))
    assert obs.outcome is Outcome.RATE_LIMITED
    assert obs.evidence.marker == "访问过于频繁"


def test_malformed_handle_raises() -> None:
    with pytest.raises(ValueError, match="package"):
        create(MonitorConfig()).validate_handle("1234567")


def test_registry_builds_the_adapter() -> None:
    assert monitors.get("xiaomi").platform == "xiaomi"
