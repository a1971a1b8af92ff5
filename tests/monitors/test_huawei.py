"""The AppGallery adapter against recorded-shape answers at web-drcn.hispace.dbankcloud.cn."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

import monitors
from monitors.base import Observation, Outcome
from monitors.config import MonitorConfig
from monitors.huawei import create
from tests.monitors._app_markets import (
    HOSTILE,
    HOSTILE_IDS,
    Handler,
    Hostile,
    fixture_bytes,
    mock_client,
)

APPID = "C100000001"
HOST = "web-drcn.hispace.dbankcloud.cn"
CODE = "b1f0c3a9d2e84f7c8a6b5d4e3f2a1b0c"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _json(name: str) -> httpx.Response:
    return httpx.Response(
        200,
        content=fixture_bytes("huawei", name),
        headers={"content-type": "application/json;charset=UTF-8"},
    )


class Gallery:
    """A fake AppGallery: hands out codes, and answers detail requests from a script.

    ``details`` is consumed one answer per detail request; the last one repeats.
    """

    def __init__(self, *details: Handler | str) -> None:
        self.details = list(details)
        self.code_requests = 0
        self.detail_requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.host == HOST
        if request.url.path == "/webedge/getInterfaceCode":
            assert request.method == "POST"
            self.code_requests += 1
            return _json("interface_code.txt")
        assert request.url.path == "/uowap/index"
        self.detail_requests.append(request)
        answer = self.details[0] if len(self.details) == 1 else self.details.pop(0)
        return answer(request) if callable(answer) else _json(answer)


async def _observe(gallery: Gallery, handle: str = APPID) -> Observation:
    async with mock_client(gallery) as client:
        return await create(MonitorConfig()).observe(handle, client)


async def test_listed_app_is_ok_with_version_and_release_date() -> None:
    gallery = Gallery("ok.json")
    obs = await _observe(gallery, "100000001")

    assert obs.outcome is Outcome.OK
    assert obs.handle == APPID
    assert obs.display_name == "国家政务服务平台"
    assert obs.last_post_at == datetime(2024, 5, 1, tzinfo=SHANGHAI)
    assert obs.followers is None and obs.post_count is None
    (post,) = obs.recent_posts
    assert post.id == "3.2.1"
    assert post.title == "国家政务服务平台 3.2.1"
    assert post.published_at == datetime(2024, 5, 1, tzinfo=SHANGHAI)
    assert post.url == "https://appgallery.huawei.com/app/C100000001"
    assert obs.evidence.http_status == 200 and obs.evidence.source == "api"

    (request,) = gallery.detail_requests
    assert request.url.params["method"] == "internal.getTabDetail"
    assert request.url.params["uri"] == "app|C100000001"
    assert request.url.params["appid"] == "C100000001"
    code, micros = request.headers["Interface-Code"].split("_")
    assert code == CODE
    assert abs(int(micros) / 1e6 - datetime.now().timestamp()) < 60


async def test_interface_code_is_cached_between_observations() -> None:
    gallery = Gallery("ok.json")
    monitor = create(MonitorConfig())
    async with mock_client(gallery) as client:
        first = await monitor.observe(APPID, client)
        second = await monitor.observe(APPID, client)
    assert first.outcome is second.outcome is Outcome.OK
    assert gallery.code_requests == 1
    assert len(gallery.detail_requests) == 2


async def test_a_rejected_code_is_refreshed_once() -> None:
    gallery = Gallery("gated_1002.json", "ok.json")
    obs = await _observe(gallery)
    assert obs.outcome is Outcome.OK
    assert gallery.code_requests == 2
    assert len(gallery.detail_requests) == 2


async def test_a_second_rejection_is_blocked_with_the_gate_marker() -> None:
    gallery = Gallery("gated_1002.json")
    monitor = create(MonitorConfig())
    async with mock_client(gallery) as client:
        obs = await monitor.observe(APPID, client)
        assert obs.outcome is Outcome.BLOCKED
        assert obs.evidence.marker == "rtnCode:1002"
        assert "InterfaceCode Verification failed" in (obs.evidence.excerpt or "")
        assert gallery.code_requests == 2
        assert len(gallery.detail_requests) == 2
        # The rejected code is dropped: the next observation starts with a fresh one.
        gallery.details = ["ok.json"]
        assert (await monitor.observe(APPID, client)).outcome is Outcome.OK
    assert gallery.code_requests == 3


async def test_success_code_with_no_cards_is_not_found() -> None:
    obs = await _observe(Gallery("not_found.json"), "C999999999")
    assert obs.outcome is Outcome.NOT_FOUND
    assert obs.evidence.marker == "rtnCode:0 layoutData:[]"
    assert obs.last_post_at is None


async def test_no_cards_without_a_success_code_is_an_error() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"layoutData": []})

    obs = await _observe(Gallery(respond))
    assert obs.outcome is Outcome.ERROR


async def test_cards_that_do_not_describe_the_app_are_an_error() -> None:
    obs = await _observe(Gallery("unexpected_cards.json"))
    assert obs.outcome is Outcome.ERROR
    assert "C100000001" in (obs.error or "")


async def test_other_return_codes_are_errors_with_the_code_as_marker() -> None:
    obs = await _observe(Gallery("server_error_code.json"))
    assert obs.outcome is Outcome.ERROR
    assert obs.evidence.marker == "rtnCode:1"


async def test_rtn_code_sent_as_a_string_is_understood() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"rtnCode": "0", "layoutData": []})

    obs = await _observe(Gallery(respond))
    assert obs.outcome is Outcome.NOT_FOUND


@pytest.mark.parametrize("case", HOSTILE, ids=HOSTILE_IDS)
async def test_hostile_detail_answers_are_never_gone(case: Hostile) -> None:
    obs = await _observe(Gallery(case.respond))
    assert obs.outcome is case.expected, (obs.outcome, obs.error, obs.evidence)
    assert obs.error
    if case.expected is Outcome.RATE_LIMITED:
        assert obs.evidence.retry_after_s == 120


@pytest.mark.parametrize("case", HOSTILE, ids=HOSTILE_IDS)
async def test_hostile_interface_code_answers_are_never_gone(case: Hostile) -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/webedge/getInterfaceCode":
            return case.respond(request)
        return _json("ok.json")

    async with mock_client(respond) as client:
        obs = await create(MonitorConfig()).observe(APPID, client)
    assert obs.outcome is case.expected, (obs.outcome, obs.error, obs.evidence)
    assert not obs.outcome.is_gone


def test_malformed_handle_raises() -> None:
    with pytest.raises(ValueError, match="AppGallery"):
        create(MonitorConfig()).validate_handle("com.example.app")


def test_registry_builds_the_adapter() -> None:
    assert monitors.get("huawei").platform == "huawei"
