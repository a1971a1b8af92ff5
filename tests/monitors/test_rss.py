"""The feed adapter against RSS 2.0, RSS 1.0, Atom, JSON Feed and RSSHub answers."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from monitors.base import Observation, Outcome
from monitors.config import MonitorConfig
from monitors.rss import create
from tests.monitors._app_markets import (
    HOSTILE,
    HOSTILE_IDS,
    Handler,
    Hostile,
    fixture_bytes,
    mock_client,
)

FEED = "http://www.sz.gov.cn/cn/xxgk/zfxxgj/zwdt/rss.xml"
RSSHUB = "https://rsshub.example.org"


def _serve(name: str, status: int = 200, kind: str = "application/rss+xml") -> Handler:
    body = fixture_bytes("rss", name)

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": kind})

    return respond


async def _observe(
    handler: Handler, url: str = FEED, config: MonitorConfig = MonitorConfig()
) -> Observation:
    async with mock_client(handler) as client:
        return await create(config).observe(url, client)


async def test_rss2_feed_is_ok_with_the_newest_plausible_date() -> None:
    obs = await _observe(_serve("rss2_ok.xml"))
    assert obs.outcome is Outcome.OK
    assert obs.display_name == "深圳市人民政府 - 政务动态"
    # 18:00 +0800; the 2030 item is a scheduled post, ignored for last_post_at.
    assert obs.last_post_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert len(obs.recent_posts) == 4
    dated = [p.published_at for p in obs.recent_posts]
    assert dated == sorted(dated, key=lambda d: d or datetime.min.replace(tzinfo=UTC), reverse=True)
    assert obs.recent_posts[2].published_at == datetime(2024, 4, 28, 1, 30, tzinfo=UTC)
    assert obs.evidence.source == "rss"
    assert obs.evidence.http_status == 200


async def test_atom_feed_uses_published_before_updated() -> None:
    obs = await _observe(_serve("atom_ok.xml", kind="application/atom+xml"))
    assert obs.outcome is Outcome.OK
    assert obs.display_name == "国家数据局 - 工作动态"
    assert obs.last_post_at == datetime(2024, 5, 2, 0, 0, tzinfo=UTC)
    assert obs.recent_posts[1].published_at == datetime(2024, 4, 25, 7, 0, tzinfo=UTC)
    assert obs.recent_posts[0].url is not None and obs.recent_posts[0].url.endswith("_pc.html")


async def test_rss1_rdf_feed_is_ok() -> None:
    obs = await _observe(_serve("rdf_ok.xml"))
    assert obs.outcome is Outcome.OK
    assert obs.last_post_at == datetime(2024, 3, 15, 8, 20, tzinfo=UTC)


async def test_rsshub_json_feed_is_ok() -> None:
    url = f"{RSSHUB}/wechat/feeds/MzA3MDM3NjE5NQ==?format=json"
    obs = await _observe(_serve("rsshub_ok.json", kind="application/json"), url)
    assert obs.outcome is Outcome.OK
    assert obs.last_post_at == datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    assert len(obs.recent_posts) == 2


async def test_feed_without_items_is_empty() -> None:
    obs = await _observe(_serve("rss2_empty.xml"))
    assert obs.outcome is Outcome.EMPTY
    assert obs.display_name == "某区政务服务数据管理局 - 政策解读"
    assert obs.last_post_at is None


async def test_undated_items_are_ok_without_a_last_post_date() -> None:
    obs = await _observe(_serve("rss2_undated.xml"))
    assert obs.outcome is Outcome.OK
    assert obs.last_post_at is None
    assert len(obs.recent_posts) == 2


async def test_feed_404_with_a_not_found_page_is_not_found() -> None:
    obs = await _observe(_serve("nginx_404.html", 404, "text/html"))
    assert obs.outcome is Outcome.NOT_FOUND
    assert obs.evidence.marker == "HTTP 404: not found"
    assert obs.evidence.http_status == 404


async def test_feed_404_without_a_page_is_error() -> None:
    obs = await _observe(lambda request: httpx.Response(404))
    assert obs.outcome is Outcome.ERROR


async def test_feed_410_gone_is_deleted() -> None:
    page = b"<html><head><title>410 Gone</title></head><body><h1>Gone</h1></body></html>"
    obs = await _observe(lambda request: httpx.Response(410, content=page))
    assert obs.outcome is Outcome.DELETED
    assert obs.evidence.marker == "HTTP 410: gone"


async def test_rsshub_404_is_a_route_error_not_a_gone_feed() -> None:
    url = f"{RSSHUB}/weibo/user/1234567890?format=json"
    handler = _serve("rsshub_error_404.json", 404, "application/json")
    for config in (MonitorConfig(), MonitorConfig(rsshub_url=RSSHUB)):
        obs = await _observe(handler, url, config)
        assert obs.outcome is Outcome.ERROR
        assert obs.error and "route does not exist" in obs.error


async def test_rsshub_404_page_under_the_configured_rsshub_is_error() -> None:
    url = f"{RSSHUB}/gov/example/zwdt"
    obs = await _observe(
        _serve("nginx_404.html", 404, "text/html"), url, MonitorConfig(rsshub_url=RSSHUB)
    )
    assert obs.outcome is Outcome.ERROR


async def test_rsshub_503_error_page_is_error_with_its_message() -> None:
    obs = await _observe(
        _serve("rsshub_error_503.html", 503, "text/html"), f"{RSSHUB}/gov/example/zwdt"
    )
    assert obs.outcome is Outcome.ERROR
    assert obs.error and "502 Bad Gateway" in obs.error


@pytest.mark.parametrize("name", ["billion_laughs.xml", "truncated.xml", "not_a_feed.html"])
async def test_unreadable_documents_are_error(name: str) -> None:
    obs = await _observe(_serve(name))
    assert obs.outcome is Outcome.ERROR
    assert obs.error and "not a readable feed" in obs.error


async def test_dtd_is_refused_before_parsing() -> None:
    obs = await _observe(_serve("billion_laughs.xml"))
    assert obs.error and "DTD" in obs.error


async def test_waf_captcha_page_is_blocked() -> None:
    obs = await _observe(_serve("waf_captcha.html", kind="text/html"))
    assert obs.outcome is Outcome.BLOCKED


async def test_redirects_are_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("old.xml"):
            return httpx.Response(301, headers={"location": FEED})
        return _serve("rss2_ok.xml")(request)

    obs = await _observe(handler, "http://www.sz.gov.cn/old.xml")
    assert obs.outcome is Outcome.OK
    assert obs.evidence.final_url == FEED


@pytest.mark.parametrize("case", HOSTILE, ids=HOSTILE_IDS)
async def test_hostile_answers_are_unknown(case: Hostile) -> None:
    obs = await _observe(case.respond)
    assert obs.outcome is case.expected, obs
    assert obs.error
    if case.name == "429 retry-after":
        assert obs.evidence.retry_after_s == 120.0


def test_malformed_handle_raises() -> None:
    with pytest.raises(ValueError, match="feed address"):
        create(MonitorConfig()).validate_handle("www.example.gov.cn/rss.xml")
