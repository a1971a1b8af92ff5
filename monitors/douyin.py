"""Douyin adapter: the web profile and post-list endpoints, with the user page as fallback.

A check asks ``/aweme/v1/web/user/profile/other/`` for the account and
``/aweme/v1/web/aweme/post/`` for the first page of works (research/platforms.md §2.1, f2).
The real endpoints also want an ``a_bogus``/``X-Bogus`` signature computed by ByteDance's
obfuscated script; that cannot be computed here, so the requests carry f2's browser
fingerprint query without it. Douyin refuses an unsigned or risk-controlled request with an
HTTP 200 and an empty body (§2.4); that, or any other blocked answer from the API, sends the
adapter to the public page ``/user/{sec_uid}`` and its ``RENDER_DATA`` (older RSSHub). Gone
only on the profile's own flags (注销, a 封禁 title); emptiness alone is never gone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx

from monitors.base import Observation, Outcome, Post, utcnow
from monitors.config import MonitorConfig
from monitors.douyin_parsing import (
    PostPage,
    Profile,
    classify_user,
    is_spider,
    latest,
    parse_post_page,
    parse_profile,
    parse_render_data,
    render_data_parts,
)
from monitors.handles import normalize_handle
from monitors.http import (
    Failure,
    Fetched,
    fetch,
    guarded_observe,
    looks_like_captcha,
    parse_json_object,
)

__all__ = ["DouyinMonitor", "create"]

PLATFORM = "douyin"
POSTS_PER_PAGE = 18
#: The user agent older RSSHub fetched the user page with (its comment: "magic!").
PAGE_USER_AGENT = "curl/7.86.0"
#: f2's ``BaseRequestModel``: the browser fingerprint every web API request carries.
FINGERPRINT: dict[str, str | int] = {
    "device_platform": "webapp",
    "aid": 6383,
    "channel": "channel_pc_web",
    "pc_client_type": 1,
    "version_code": "290100",
    "version_name": "29.1.0",
    "cookie_enabled": "true",
    "screen_width": 1920,
    "screen_height": 1080,
    "browser_language": "zh-CN",
    "browser_platform": "Win32",
    "browser_name": "Chrome",
    "browser_version": "130.0.0.0",
    "browser_online": "true",
    "engine_name": "Blink",
    "engine_version": "130.0.0.0",
    "os_name": "Windows",
    "os_version": "10",
    "cpu_core_num": 8,
    "device_memory": 8,
    "platform": "PC",
    "downlink": 10,
    "effective_type": "4g",
    "round_trip_time": 50,
}


class DouyinMonitor:
    """Observes a Douyin account by sec_uid; see the module docstring for the flow."""

    platform = PLATFORM

    def __init__(self, config: MonitorConfig, clock: Callable[[], datetime] = utcnow) -> None:
        self._config = config
        self._clock = clock

    def validate_handle(self, handle: str) -> str:
        """The sec_uid (MS4wLjABAAAA…), or ValueError for a Douyin number or anything else."""
        return normalize_handle(PLATFORM, handle)

    async def observe(self, handle: str, client: httpx.AsyncClient) -> Observation:
        """Observe one sec_uid; never raises for upstream behaviour (see monitors.http)."""
        sec_uid = self.validate_handle(handle)
        return await guarded_observe(PLATFORM, sec_uid, lambda: self._observe(sec_uid, client))

    async def _observe(self, sec_uid: str, client: httpx.AsyncClient) -> Observation:
        now = self._clock()
        try:
            fetched = await self._api(client, sec_uid, "/aweme/v1/web/user/profile/other/", {})
        except Failure as failure:
            if failure.outcome is not Outcome.BLOCKED:
                raise
            return await self._from_page(client, sec_uid, now, failure)
        body = parse_json_object(fetched)
        _check_status(body, fetched)
        user = body.get("user")
        if not isinstance(user, dict):
            raise fetched.failure(Outcome.ERROR, "profile answer without a user object")
        observation = _profile_observation(sec_uid, user, fetched, now)
        if observation.outcome is not Outcome.OK:
            return observation
        try:
            page, posts_fetched = await self._first_posts(client, sec_uid)
        except Failure as failure:
            if failure.outcome is not Outcome.BLOCKED:
                raise
            return await self._from_page(client, sec_uid, now, failure)
        return _with_posts(observation, page, posts_fetched)

    async def _api(
        self, client: httpx.AsyncClient, sec_uid: str, path: str, extra: dict[str, str | int]
    ) -> Fetched:
        base = self._config.douyin_base_url
        headers = {
            "User-Agent": self._config.desktop_user_agent,
            "Accept": "application/json, text/plain, */*",
            "Referer": f"{base}/user/{sec_uid}",
        }
        if self._config.douyin_cookie:
            headers["Cookie"] = self._config.douyin_cookie
        params = {**FINGERPRINT, "sec_user_id": sec_uid, **extra}
        return await fetch(
            client, "GET", f"{base}{path}", source="api", headers=headers, params=params
        )

    async def _first_posts(
        self, client: httpx.AsyncClient, sec_uid: str
    ) -> tuple[PostPage, Fetched]:
        """The first page of works; one more page when Douyin sends an empty page with more."""
        cursor = 0
        for _attempt in range(2):
            extra: dict[str, str | int] = {"max_cursor": cursor, "count": POSTS_PER_PAGE}
            fetched = await self._api(client, sec_uid, "/aweme/v1/web/aweme/post/", extra)
            body = parse_json_object(fetched)
            _check_status(body, fetched)
            page = parse_post_page(body)
            if page.posts != [] or not page.has_more:
                return page, fetched
            cursor = page.max_cursor
        raise fetched.failure(
            Outcome.ERROR, "empty post pages that claim has_more", marker="has_more:1"
        )

    async def _from_page(
        self, client: httpx.AsyncClient, sec_uid: str, now: datetime, api_failure: Failure
    ) -> Observation:
        """Classify from the public user page when the API refused us."""
        headers = {"User-Agent": PAGE_USER_AGENT, "Accept": "text/html,application/xhtml+xml"}
        if self._config.douyin_cookie:
            headers["Cookie"] = self._config.douyin_cookie
        url = f"{self._config.douyin_base_url}/user/{sec_uid}"
        try:
            # The body is checked here, not by fetch: RENDER_DATA words such as
            # "customVerify" must not read as a captcha on a page that carries the data.
            fetched = await fetch(
                client, "GET", url, source="page", headers=headers, check_body=False
            )
            render_data = parse_render_data(fetched.text)
            if render_data is None:
                raise _page_refusal(fetched)
        except Failure as failure:
            failure.error = f"api: {api_failure.error}; page: {failure.error}"
            raise
        if is_spider(render_data):
            raise fetched.failure(Outcome.BLOCKED, "classified as a spider", marker="isSpider")
        user, post_page = render_data_parts(render_data)
        observation = _profile_observation(sec_uid, user, fetched, now)
        if observation.outcome is not Outcome.OK:
            return observation
        return _with_posts(observation, parse_post_page(post_page), fetched)


def _page_refusal(fetched: Fetched) -> Failure:
    """Why a user page without RENDER_DATA is no answer: empty, captcha, or another page."""
    if not fetched.text.strip():
        return fetched.failure(Outcome.BLOCKED, "empty response body", marker="empty body")
    if marker := looks_like_captcha(fetched.text):
        return fetched.failure(Outcome.BLOCKED, "captcha or verification page", marker=marker)
    return fetched.failure(Outcome.BLOCKED, "user page without RENDER_DATA")


def _check_status(body: dict[str, object], fetched: Fetched) -> None:
    """A non-zero ``status_code`` says nothing about the account: error."""
    status_code = body.get("status_code")
    if status_code not in (0, None):
        marker = f"status_code:{status_code} {body.get('status_msg') or ''}".strip()
        raise fetched.failure(Outcome.ERROR, "the API answered an error", marker=marker)


def _profile_observation(
    sec_uid: str, user: dict[str, object], fetched: Fetched, now: datetime
) -> Observation:
    """Gone or private from the user's flags; otherwise OK pending the posts."""
    verdict = classify_user(user)
    observation = Observation(
        platform=PLATFORM,
        handle=sec_uid,
        outcome=verdict.outcome if verdict else Outcome.OK,
        observed_at=now,
        evidence=fetched.evidence(marker=verdict.marker if verdict else None),
    )
    profile: Profile = parse_profile(user)
    observation.display_name = profile.display_name
    observation.verified = profile.verified
    observation.followers = profile.followers
    observation.post_count = profile.post_count
    return observation


def _with_posts(observation: Observation, page: PostPage, fetched: Fetched) -> Observation:
    """ok with the newest work's time; empty for ``[]`` + has_more 0; null is not evidence.

    ``aweme_list: null`` means "works unavailable" (§2.3): empty when the profile counts no
    works, otherwise blocked, since a refused request looks the same (TikTokDownloader#54).
    """
    posts: list[Post] | None = page.posts
    if posts is None:
        if observation.post_count == 0:
            observation.outcome = Outcome.EMPTY
            observation.evidence = fetched.evidence(marker="aweme_list:null")
            return observation
        raise fetched.failure(Outcome.BLOCKED, "works unavailable", marker="aweme_list:null")
    if not posts:
        observation.outcome = Outcome.EMPTY
        observation.evidence = fetched.evidence(marker="aweme_list:[] has_more:0")
        return observation
    newest = latest(posts)
    if newest is None:
        raise fetched.failure(Outcome.ERROR, "works without a readable create_time")
    observation.last_post_at = newest
    observation.recent_posts = posts
    observation.evidence = fetched.evidence()
    return observation


def create(config: MonitorConfig) -> DouyinMonitor:
    """The Douyin adapter for ``config`` (monitors.get calls this)."""
    return DouyinMonitor(config)
