"""The App Store adapter against recorded-shape lookup answers at itunes.apple.com."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

import monitors
from monitors.appstore import create
from monitors.base import Outcome
from monitors.config import MonitorConfig
from tests.monitors._app_markets import (
    HOSTILE,
    HOSTILE_IDS,
    Handler,
    Hostile,
    fixture_bytes,
    mock_client,
)

TRACK_ID = "1454063337"


def _fixture(name: str, status: int = 200) -> Handler:
    body = fixture_bytes("appstore", name)

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, content=body, headers={"content-type": "text/javascript; charset=utf-8"}
        )

    return respond


async def _observe(handler: Handler, handle: str = TRACK_ID) -> monitors.Observation:
    async with mock_client(handler) as client:
        return await create(MonitorConfig()).observe(handle, client)


async def test_listed_app_is_ok_with_current_version_as_latest_post() -> None:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _fixture("ok.json")(request)

    obs = await _observe(respond, f"id{TRACK_ID}")

    assert obs.outcome is Outcome.OK
    assert obs.handle == TRACK_ID
    assert obs.display_name == "国家政务服务平台"
    assert obs.last_post_at == datetime(2024, 5, 1, 7, 0, tzinfo=UTC)
    assert obs.followers is None  # userRatingCount is ratings, not followers
    assert obs.post_count is None
    assert len(obs.recent_posts) == 1
    post = obs.recent_posts[0]
    assert post.id == "3.2.1"
    assert post.title == "国家政务服务平台 3.2.1"
    assert post.published_at == datetime(2024, 5, 1, 7, 0, tzinfo=UTC)
    assert post.url is not None and "id1454063337" in post.url
    assert obs.evidence.http_status == 200
    assert obs.evidence.source == "api"
    assert obs.elapsed_ms is not None and obs.elapsed_ms >= 0
    assert obs.observed_at.tzinfo is not None
    (request,) = seen
    assert request.url.host == "itunes.apple.com"
    assert request.url.path == "/lookup"
    assert request.url.params["id"] == TRACK_ID
    assert request.url.params["country"] == "cn"
    assert request.url.params["entity"] == "software"


async def test_release_date_is_used_when_the_current_version_date_is_missing() -> None:
    obs = await _observe(_fixture("ok_release_date_only.json"), "1520000001")
    assert obs.outcome is Outcome.OK
    assert obs.display_name == "某市民生服务"
    assert obs.last_post_at == datetime(2023, 11, 8, 8, 0, tzinfo=UTC)
    assert obs.recent_posts[0].id == "1.0"


async def test_result_count_zero_is_not_found_with_marker() -> None:
    obs = await _observe(_fixture("not_found.json"))
    assert obs.outcome is Outcome.NOT_FOUND
    assert obs.evidence.marker == "resultCount:0"
    assert obs.evidence.http_status == 200
    assert obs.display_name is None
    assert obs.last_post_at is None


async def test_country_setting_is_sent() -> None:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _fixture("ok.json")(request)

    async with mock_client(respond) as client:
        monitor = create(MonitorConfig(appstore_country="us"))
        await monitor.observe(TRACK_ID, client)
    assert seen[0].url.params["country"] == "us"


async def test_apple_403_page_is_blocked_not_gone() -> None:
    obs = await _observe(_fixture("forbidden_403.html", status=403))
    assert obs.outcome is Outcome.BLOCKED
    assert obs.evidence.http_status == 403


async def test_error_message_json_is_error() -> None:
    obs = await _observe(_fixture("unexpected_shape.json"))
    assert obs.outcome is Outcome.ERROR
    assert obs.error


async def test_a_result_for_another_app_is_not_taken_as_this_one() -> None:
    obs = await _observe(_fixture("ok.json"), "1520000001")
    assert obs.outcome is Outcome.ERROR


async def test_lookup_404_is_an_error_not_gone() -> None:
    obs = await _observe(_fixture("not_found.json", status=404))
    assert obs.outcome.is_unknown


@pytest.mark.parametrize("case", HOSTILE, ids=HOSTILE_IDS)
async def test_hostile_answers_are_never_gone(case: Hostile) -> None:
    obs = await _observe(case.respond)
    assert obs.outcome is case.expected, (obs.outcome, obs.error, obs.evidence)
    assert not obs.outcome.is_gone
    assert obs.error
    if case.expected is Outcome.RATE_LIMITED:
        assert obs.evidence.retry_after_s == 120


def test_malformed_handle_raises() -> None:
    monitor = create(MonitorConfig())
    with pytest.raises(ValueError, match="App Store"):
        monitor.validate_handle("com.example.app")
    assert monitor.validate_handle(" id444934666 ") == "444934666"


async def test_observe_raises_for_a_malformed_handle() -> None:
    async with mock_client(_fixture("ok.json")) as client:
        with pytest.raises(ValueError):
            await create(MonitorConfig()).observe("not-a-number", client)


def test_registry_builds_the_adapter() -> None:
    assert monitors.get("appstore").platform == "appstore"
