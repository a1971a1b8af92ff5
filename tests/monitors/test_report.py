"""The one-shot check's text and JSON renderings, and check_once's handle validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

import monitors
from monitors.base import Evidence, Observation, Outcome, Post
from monitors.config import MonitorConfig
from monitors.report import check_once, render_json, render_text

OBSERVED_AT = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def _alive() -> Observation:
    posts = [
        Post(
            id=f"p{i}",
            published_at=OBSERVED_AT - timedelta(days=3 + i),
            title=f"政务公告第{i}号",
            url=f"https://m.weibo.cn/status/p{i}",
            pinned=i == 0,
        )
        for i in range(7)
    ]
    return Observation(
        platform="weibo",
        handle="1234567890",
        outcome=Outcome.OK,
        observed_at=OBSERVED_AT,
        display_name="平安北京",
        verified=True,
        followers=1_234_567,
        post_count=4321,
        last_post_at=OBSERVED_AT - timedelta(days=3),
        recent_posts=posts,
        evidence=Evidence(http_status=200, final_url="https://m.weibo.cn/api", source="api"),
        elapsed_ms=123.4,
    )


def _gone() -> Observation:
    return Observation(
        platform="douyin",
        handle="MS4wLjABAAAAxxxxxxxxxxxxxxxxxxxxxxxx",
        outcome=Outcome.DELETED,
        observed_at=OBSERVED_AT,
        evidence=Evidence(
            http_status=200,
            final_url="https://www.douyin.com/user/x",
            source="page",
            marker="user_deleted:true",
            excerpt='{"user":\n   {"special_state": 1}}',
        ),
        elapsed_ms=88.0,
    )


def test_text_shows_outcome_class_account_and_posts() -> None:
    text = render_text(_alive())
    assert text.splitlines()[0] == "weibo 1234567890"
    assert "outcome:       ok (alive)" in text
    assert "display name:  平安北京" in text
    assert "verified:      yes" in text
    assert "followers:     1,234,567" in text
    assert "posts:         4,321" in text
    assert "last post:     2025-03-07 12:00 UTC (3.0 days ago)" in text
    assert "recent posts (5 of 7):" in text
    assert "[pinned]  政务公告第0号  https://m.weibo.cn/status/p0" in text
    assert "政务公告第4号" in text
    assert "政务公告第5号" not in text
    assert "status:        200" in text
    assert "source:        api" in text
    assert "elapsed:       123 ms" in text


def test_text_of_gone_account_shows_marker_and_flattened_excerpt() -> None:
    text = render_text(_gone())
    assert "outcome:       deleted (gone)" in text
    assert "marker:        user_deleted:true" in text
    assert 'excerpt:       {"user": {"special_state": 1}}' in text
    assert "display name:  unknown" in text
    assert "followers:     unknown" in text
    assert "last post:     unknown" in text
    assert "recent posts:  none" in text


def test_text_of_unknown_outcome_shows_error_and_retry_after() -> None:
    obs = Observation(
        platform="weibo",
        handle="1234567890",
        outcome=Outcome.RATE_LIMITED,
        observed_at=OBSERVED_AT,
        evidence=Evidence(http_status=429, retry_after_s=30),
        error="HTTP 429",
    )
    text = render_text(obs)
    assert "rate_limited (unknown)" in text
    assert "retry after:   30 s" in text
    assert "error:         HTTP 429" in text
    assert "elapsed:       unknown" in text


def test_json_uses_iso_utc_and_enum_values() -> None:
    shanghai = timezone(timedelta(hours=8))
    obs = _alive()
    obs.last_post_at = datetime(2025, 3, 7, 20, 0, tzinfo=shanghai)
    data = json.loads(render_json(obs))
    assert data["outcome"] == "ok"
    assert data["outcome_class"] == "alive"
    assert data["observed_at"] == "2025-03-10T12:00:00Z"
    assert data["last_post_at"] == "2025-03-07T12:00:00Z"
    assert data["recent_posts"][0] == {
        "id": "p0",
        "published_at": "2025-03-07T12:00:00Z",
        "title": "政务公告第0号",
        "url": "https://m.weibo.cn/status/p0",
        "pinned": True,
    }
    assert len(data["recent_posts"]) == 7
    assert data["evidence"]["http_status"] == 200
    assert data["evidence"]["marker"] is None
    assert data["followers"] == 1_234_567


def test_json_is_stable_and_keeps_chinese_readable() -> None:
    first = render_json(_alive())
    assert first == render_json(_alive())
    assert "平安北京" in first
    keys = list(json.loads(first))
    assert keys[:4] == ["platform", "handle", "outcome", "observed_at"]
    assert keys[-1] == "outcome_class"


class _RecordingMonitor:
    platform = "weibo"

    def __init__(self) -> None:
        self.seen: list[tuple[str, float | None]] = []

    def validate_handle(self, handle: str) -> str:
        return monitors.normalize_handle("weibo", handle)

    async def observe(self, handle: str, client: httpx.AsyncClient) -> Observation:
        self.seen.append((handle, client.timeout.read))
        return Observation(platform="weibo", handle=handle, outcome=Outcome.OK)


async def test_check_once_rejects_a_malformed_handle(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _RecordingMonitor()
    monkeypatch.setattr(monitors, "get", lambda platform, config=None: fake)
    with pytest.raises(ValueError, match="numeric uid"):
        await check_once("weibo", "not-a-uid", MonitorConfig(), httpx.AsyncClient())
    assert fake.seen == []


async def test_check_once_rejects_an_unknown_platform() -> None:
    with pytest.raises(ValueError, match="unknown platform 'myspace'"):
        await check_once("myspace", "123", MonitorConfig(), httpx.AsyncClient())


async def test_check_once_observes_the_normalized_handle(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _RecordingMonitor()
    monkeypatch.setattr(monitors, "get", lambda platform, config=None: fake)
    async with httpx.AsyncClient(timeout=7) as client:
        obs = await check_once("weibo", "  1234567890 ", MonitorConfig(), client)
    assert obs.outcome is Outcome.OK
    assert fake.seen == [("1234567890", 7)]
