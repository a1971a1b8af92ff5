"""The 应用宝 adapter against recorded-shape app-info answers at upage.html5.qq.com."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

import monitors
from monitors.base import Observation, Outcome
from monitors.config import MonitorConfig
from monitors.yyb import create
from tests.monitors._app_markets import (
    HOSTILE,
    HOSTILE_IDS,
    Handler,
    Hostile,
    fixture_bytes,
    mock_client,
)

PACKAGE = "cn.gov.zwfw.app"


def _fixture(name: str, status: int = 200) -> Handler:
    body = fixture_bytes("yyb", name)

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    return respond


async def _observe(handler: Handler, handle: str = PACKAGE) -> Observation:
    async with mock_client(handler) as client:
        return await create(MonitorConfig()).observe(handle, client)


async def test_listed_app_is_ok_with_update_time_as_latest_post() -> None:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _fixture("ok.json")(request)

    obs = await _observe(respond)

    assert obs.outcome is Outcome.OK
    assert obs.display_name == "国家政务服务平台"
    assert obs.last_post_at == datetime(2024, 5, 1, 4, 0, tzinfo=UTC)
    assert obs.followers is None and obs.post_count is None
    (post,) = obs.recent_posts
    assert post.id == "3.2.1"
    assert post.title == "国家政务服务平台 3.2.1"
    assert post.url == "https://sj.qq.com/appdetail/cn.gov.zwfw.app"
    assert obs.evidence.source == "api" and obs.evidence.http_status == 200
    (request,) = seen
    assert request.method == "POST"
    assert request.url.host == "upage.html5.qq.com"
    assert request.url.path == "/wechat-apkinfo"
    assert json.loads(request.content) == {"packagename": PACKAGE}


async def test_empty_records_are_not_found_with_marker() -> None:
    obs = await _observe(_fixture("not_found.json"))
    assert obs.outcome is Outcome.NOT_FOUND
    assert obs.evidence.marker == "app_detail_records:{}"


async def test_null_record_is_not_found() -> None:
    obs = await _observe(_fixture("null_record.json"), "cn.gov.removed.app")
    assert obs.outcome is Outcome.NOT_FOUND
    assert obs.evidence.marker == "app_detail_records.cn.gov.removed.app:null"


async def test_records_for_another_package_only_are_an_error() -> None:
    obs = await _observe(_fixture("ok.json"), "cn.gov.other.app")
    assert obs.outcome is Outcome.ERROR
    assert "cn.gov.other.app" in (obs.error or "")


async def test_answer_without_records_is_an_error() -> None:
    obs = await _observe(_fixture("malformed.json"))
    assert obs.outcome is Outcome.ERROR


async def test_record_without_app_info_is_an_error() -> None:
    obs = await _observe(_fixture("record_without_app_info.json"))
    assert obs.outcome is Outcome.ERROR


async def test_record_without_update_time_is_ok_without_a_date() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        record = {"app_info": {"name": "某市民生服务"}, "apk_all_data": {"version_name": "1.0"}}
        return httpx.Response(200, json={"app_detail_records": {PACKAGE: record}})

    obs = await _observe(respond)
    assert obs.outcome is Outcome.OK
    assert obs.last_post_at is None
    assert obs.recent_posts[0].id == "1.0"


@pytest.mark.parametrize("case", HOSTILE, ids=HOSTILE_IDS)
async def test_hostile_answers_are_never_gone(case: Hostile) -> None:
    obs = await _observe(case.respond)
    assert obs.outcome is case.expected, (obs.outcome, obs.error, obs.evidence)
    assert obs.error
    if case.expected is Outcome.RATE_LIMITED:
        assert obs.evidence.retry_after_s == 120


def test_malformed_handle_raises() -> None:
    with pytest.raises(ValueError, match="package"):
        create(MonitorConfig()).validate_handle("not a package")


def test_registry_builds_the_adapter() -> None:
    assert monitors.get("yyb").platform == "yyb"
