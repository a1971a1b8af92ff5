"""Weibo adapter: the m.weibo.cn container API, with the Sina visitor cookie.

A check asks ``getIndex?type=uid&value={uid}`` for the profile and the ``weibo`` tab's
container (``107603{uid}``) for the first page of posts (research/platforms.md §1). Without a
configured ``weibo_cookie`` the adapter gets a visitor ``SUB`` cookie from the passport's
genvisitor/incarnate flow, keeps it on the instance, and renews it once when m.weibo.cn answers
with its login wall (``ok: -100`` or a redirect to passport). m.weibo.cn's "这里还没有内容" is
ambiguous (no such uid, a gone account, or a login-only profile), so it is reported ``empty``
unless weibo.com's PC profile API names a gone marker (§1.3).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from monitors.base import Evidence, Observation, Outcome, Post, utcnow
from monitors.config import MonitorConfig
from monitors.handles import normalize_handle
from monitors.http import Failure, Fetched, excerpt, fetch, guarded_observe, parse_json_object
from monitors.weibo_parsing import (
    NO_CONTENT_MSG,
    Profile,
    Verdict,
    classify_container_answer,
    classify_pc_profile,
    parse_posts,
    parse_profile,
    pc_profile_fields,
)
from monitors.weibo_visitor import fetch_visitor_cookie

__all__ = ["WeiboMonitor", "create"]

PLATFORM = "weibo"
_LOGIN_WALL = re.compile(r"passport\.weibo|login\.sina\.com\.cn|/signin|/visitor/", re.I)


class WeiboMonitor:
    """Observes a Weibo account by uid; see the module docstring for the flow."""

    platform = PLATFORM

    def __init__(self, config: MonitorConfig, clock: Callable[[], datetime] = utcnow) -> None:
        self._config = config
        self._clock = clock
        self._visitor_cookie: str | None = None
        self._visitor_lock = asyncio.Lock()

    def validate_handle(self, handle: str) -> str:
        """The uid as Weibo writes it, or ValueError for anything that is not one."""
        return normalize_handle(PLATFORM, handle)

    async def observe(self, handle: str, client: httpx.AsyncClient) -> Observation:
        """Observe one uid; never raises for upstream behaviour (see monitors.http)."""
        uid = self.validate_handle(handle)
        return await guarded_observe(PLATFORM, uid, lambda: self._observe(uid, client))

    async def _observe(self, uid: str, client: httpx.AsyncClient) -> Observation:
        now = self._clock()
        params = {"type": "uid", "value": uid}
        body, fetched = await self._container(client, uid, params)
        verdict = classify_container_answer(body)
        if verdict is not None:
            if verdict.outcome is Outcome.EMPTY:
                return await self._confirm_no_content(client, uid, fetched, now)
            return _decided(uid, verdict, fetched, now)
        profile = parse_profile(uid, body)
        params = {**params, "containerid": profile.posts_containerid}
        posts_body, posts_fetched = await self._container(client, uid, params)
        verdict = classify_container_answer(posts_body)
        if verdict is not None and verdict.outcome is not Outcome.EMPTY:
            if verdict.outcome.is_gone:
                # The profile answered ok:1, so the account exists; do not trust the contradiction.
                verdict = Verdict(Outcome.ERROR, verdict.marker, "posts page contradicts profile")
            return _decided(uid, verdict, posts_fetched, now)
        if verdict is not None:
            return _with_posts(uid, profile, [], posts_fetched, now, marker=NO_CONTENT_MSG)
        return _with_posts(uid, profile, parse_posts(posts_body, now), posts_fetched, now)

    async def _container(
        self, client: httpx.AsyncClient, uid: str, params: Mapping[str, str]
    ) -> tuple[dict[str, Any], Fetched]:
        """One getIndex call, renewing a visitor cookie once on the login wall."""
        cookie = await self._cookie(client)
        fetched = await self._get_index(client, uid, params, cookie)
        if _is_login_wall(fetched) and self._config.weibo_cookie is None:
            cookie = await self._cookie(client, stale=cookie)
            fetched = await self._get_index(client, uid, params, cookie)
        if 300 <= fetched.status < 400:
            location = fetched.headers.get("location", "")
            raise Failure(
                Outcome.BLOCKED,
                "redirected to the visitor system or login page",
                fetched.evidence(marker=location or f"HTTP {fetched.status}"),
            )
        return parse_json_object(fetched), fetched

    async def _get_index(
        self, client: httpx.AsyncClient, uid: str, params: Mapping[str, str], cookie: str
    ) -> Fetched:
        base = self._config.weibo_base_url
        headers = {
            "User-Agent": self._config.mobile_user_agent,
            "Accept": "application/json, text/plain, */*",
            "MWeibo-Pwa": "1",
            "X-Requested-With": "XMLHttpRequest",
            "Referer": f"{base}/u/{uid}",
            "Cookie": cookie,
        }
        return await fetch(
            client,
            "GET",
            f"{base}/api/container/getIndex",
            source="api",
            headers=headers,
            params=params,
            follow_redirects=False,
        )

    async def _confirm_no_content(
        self, client: httpx.AsyncClient, uid: str, no_content: Fetched, now: datetime
    ) -> Observation:
        """Ask weibo.com's PC profile API whether a "no content" uid is gone.

        Only a §1.3 marker there makes the account gone; a live user, or any failure of the
        PC API, leaves m.weibo.cn's answer standing: empty.
        """
        base = self._config.weibo_pc_base_url
        headers = {
            "User-Agent": self._config.desktop_user_agent,
            "Accept": "application/json, text/plain, */*",
            "X-Requested-With": "XMLHttpRequest",
            "Referer": f"{base}/u/{uid}",
        }
        empty = Observation(
            platform=PLATFORM,
            handle=uid,
            outcome=Outcome.EMPTY,
            observed_at=now,
            evidence=no_content.evidence(marker=NO_CONTENT_MSG),
        )
        try:
            headers["Cookie"] = await self._cookie(client)
            pc = await fetch(
                client,
                "GET",
                f"{base}/ajax/profile/info",
                source="pc-api",
                headers=headers,
                params={"uid": uid},
                accept=(400,),
            )
            body = parse_json_object(pc)
        except Failure:
            return empty
        verdict = classify_pc_profile(pc.status, body)
        if verdict is None:
            profile = pc_profile_fields(body)
            _fill_profile(empty, profile)
            return empty
        if verdict.outcome.is_gone:
            return _decided(uid, verdict, pc, now)
        return empty

    async def _cookie(self, client: httpx.AsyncClient, stale: str | None = None) -> str:
        """The configured cookie, else the cached visitor cookie (renewed when ``stale``).

        A lock keeps concurrent checks from all asking the visitor system at once; a check
        that saw the login wall with an already-renewed cookie just uses the new one.
        """
        if self._config.weibo_cookie:
            return self._config.weibo_cookie
        async with self._visitor_lock:
            if self._visitor_cookie is None or self._visitor_cookie == stale:
                self._visitor_cookie = None
                self._visitor_cookie = await fetch_visitor_cookie(client, self._config)
            return self._visitor_cookie


def _is_login_wall(fetched: Fetched) -> bool:
    """``ok: -100``, or a redirect to passport/login: the cookie is missing or expired."""
    if 300 <= fetched.status < 400:
        return bool(_LOGIN_WALL.search(fetched.headers.get("location", "")))
    try:
        body = json.loads(fetched.text)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("ok") == -100


def _decided(uid: str, verdict: Verdict, fetched: Fetched, now: datetime) -> Observation:
    """The observation for a verdict: unknown-class verdicts become a Failure."""
    evidence = fetched.evidence(marker=verdict.marker or None)
    if verdict.outcome.is_unknown:
        raise Failure(verdict.outcome, verdict.reason or str(verdict.outcome), evidence)
    return Observation(
        platform=PLATFORM, handle=uid, outcome=verdict.outcome, observed_at=now, evidence=evidence
    )


def _fill_profile(observation: Observation, profile: Profile) -> None:
    observation.display_name = profile.display_name
    observation.verified = profile.verified
    observation.followers = profile.followers
    observation.post_count = profile.post_count


def _with_posts(
    uid: str,
    profile: Profile,
    posts: list[Post],
    fetched: Fetched,
    now: datetime,
    marker: str | None = None,
) -> Observation:
    """ok with the newest post's time, or empty when the first page has no post at all."""
    dates = [post.published_at for post in posts if post.published_at is not None]
    if posts and not dates:
        raise Failure(
            Outcome.ERROR,
            "posts without a readable created_at",
            Evidence(http_status=fetched.status, source="api", excerpt=excerpt(fetched.text)),
        )
    observation = Observation(
        platform=PLATFORM,
        handle=uid,
        outcome=Outcome.OK if posts else Outcome.EMPTY,
        observed_at=now,
        last_post_at=max(dates) if dates else None,
        recent_posts=posts,
        evidence=fetched.evidence(marker=marker),
    )
    _fill_profile(observation, profile)
    return observation


def create(config: MonitorConfig) -> WeiboMonitor:
    """The Weibo adapter for ``config`` (monitors.get calls this)."""
    return WeiboMonitor(config)
