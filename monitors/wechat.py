"""WeChat official accounts (公众号), identified by ``__biz``.

WeChat has **no anonymous profile API** (research/platforms.md §3). This adapter uses the best
sources configured, in order, and says in ``evidence.source`` which one answered:

1. ``mp_api``: the MP backend article list (``/cgi-bin/appmsgpublish``), only when
   ``wechat_cookie`` and ``wechat_token`` (a logged-in 公众平台 session of your own) are set.
   Its ``publish_page`` is JSON inside JSON inside JSON. ``ret 200003`` (session expired) is
   auth_required; ``ret 200013`` (freq control) is blocked, as research advises: it has been
   reported as persistent since mid-2026, when WeChat may have withdrawn the list function.
2. ``rsshub``: ``{rsshub_url}{wechat_rsshub_route}?format=json`` when ``rsshub_url`` is set.
   The default route, /wechat/feeds/{biz}, is the only RSSHub route keyed by __biz alone and
   its upstream stopped updating: without a live bridge its dates go stale. RSSHub errors are
   weak hints (a WAF/captcha message is blocked, a frequency message rate_limited, anything
   else error) and never gone.
3. ``page``: the public profile page (``/mp/profile_ext?action=home&__biz=``). Outside the
   WeChat client it shows 请在微信客户端打开链接 for a live account, so it can only tell that an
   account is gone: 此帐号已被屏蔽 / 已限制跳转到小主页 -> banned, 此帐号已自主注销 /
   此帐号已注销 -> deleted. It is consulted whenever the sources above did not show posts.

Outcomes: ok and empty come only from sources 1 and 2; banned and deleted only from a marker
on the profile page; not_found and private never (WeChat shows no positive "no such account"
page we know of). A migrated account (该公众号已迁移 …) lives on under another __biz, so it is
not gone: it is error with the marker and the transfer target in the evidence, so the registry
can be updated. Captcha pages (环境异常, wappoc_appmsgcaptcha) are blocked, frequency pages
rate_limited. With no cookie/token and no RSSHub, a live account is auth_required.

No source gives follower counts; verification is not read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from monitors.base import Evidence, Monitor, Observation, Outcome, Post, utcnow
from monitors.blockpages import frequency_marker, looks_like_captcha, marker_in_url
from monitors.config import MonitorConfig
from monitors.feeds import FeedError, newest, parse_feed, rsshub_error_message
from monitors.handles import normalize_handle
from monitors.http import (
    Failure,
    Fetched,
    excerpt,
    fetch,
    guarded_observe,
    parse_json_object,
)
from monitors.wechat_pages import parse_publish_page, read_profile_page

__all__ = ["WechatMonitor", "create"]

PLATFORM = "wechat"
_WAF_HINTS = ("环境异常", "WAF", "captcha", "验证")

Source = Callable[[str, httpx.AsyncClient], Awaitable[Observation]]


class WechatMonitor:
    """Observes one official account per call through the configured sources."""

    platform = PLATFORM

    def __init__(self, config: MonitorConfig) -> None:
        self._base = config.wechat_base_url.rstrip("/")
        self._cookie = config.wechat_cookie
        self._token = config.wechat_token
        self._rsshub = config.rsshub_url.rstrip("/") if config.rsshub_url else None
        self._route = config.wechat_rsshub_route
        self._headers = {"User-Agent": config.mobile_user_agent}

    def validate_handle(self, handle: str) -> str:
        """The account's __biz (base64 of its numeric id, e.g. MzA3MDM3NjE5NQ==)."""
        return normalize_handle(PLATFORM, handle)

    def _sources(self) -> list[Source]:
        sources: list[Source] = []
        if self._cookie and self._token:
            sources.append(self._from_mp)
        if self._rsshub:
            sources.append(self._from_rsshub)
        return sources

    async def observe(self, handle: str, client: httpx.AsyncClient) -> Observation:
        """Try each configured source; the profile page decides only a gone account."""
        biz = self.validate_handle(handle)
        return await guarded_observe(PLATFORM, biz, lambda: self._observe(biz, client))

    async def _observe(self, biz: str, client: httpx.AsyncClient) -> Observation:
        tried: list[Observation] = []
        for source in self._sources():
            observation = await _attempt(biz, source, client)
            if observation.outcome is Outcome.OK:
                return observation
            tried.append(observation)
        probe = await _attempt(biz, self._from_profile_page, client)
        if probe.outcome.is_gone or not tried:
            return probe
        alive = [o for o in tried if o.outcome.is_alive]
        return alive[0] if alive else tried[0]

    async def _from_mp(self, biz: str, client: httpx.AsyncClient) -> Observation:
        fetched = await fetch(
            client,
            "GET",
            f"{self._base}/cgi-bin/appmsgpublish",
            source="mp_api",
            headers={**self._headers, "Cookie": self._cookie or "", "Referer": self._base},
            params={
                "sub": "list",
                "sub_action": "list_ex",
                "begin": 0,
                "count": 5,
                "fakeid": biz,
                "type": "101_1",
                "free_publish_type": 1,
                "token": self._token or "",
                "lang": "zh_CN",
                "f": "json",
                "ajax": 1,
            },
        )
        body = parse_json_object(fetched)
        ret = body["base_resp"]["ret"]
        if ret == 200003:
            raise fetched.failure(
                Outcome.AUTH_REQUIRED,
                "MP session expired (ret 200003): renew wechat_cookie and wechat_token",
                marker="ret=200003",
            )
        if ret == 200013:
            raise fetched.failure(
                Outcome.BLOCKED,
                "MP backend frequency control (ret 200013); reported persistent since 2026-07",
                marker="ret=200013 freq control",
            )
        if ret != 0:
            raise fetched.failure(
                Outcome.ERROR, f"MP backend answered ret={ret}", marker=f"ret={ret}"
            )
        page = parse_publish_page(body)
        return Observation(
            platform=PLATFORM,
            handle=biz,
            outcome=Outcome.OK if page.posts else Outcome.EMPTY,
            post_count=page.total_count,
            last_post_at=max((p.published_at for p in page.posts if p.published_at), default=None),
            recent_posts=page.posts,
            evidence=fetched.evidence(),
        )

    async def _from_rsshub(self, biz: str, client: httpx.AsyncClient) -> Observation:
        fetched = await fetch(
            client,
            "GET",
            f"{self._rsshub}{self._route.format(biz=biz)}",
            source="rsshub",
            headers=self._headers,
            params={"format": "json"},
            accept=(403, 404, 503),
        )
        body = fetched.text.encode()
        message = rsshub_error_message(body)
        if message is not None or not 200 <= fetched.status < 300:
            raise _rsshub_failure(fetched, message or "")
        try:
            feed = parse_feed(body, utcnow())
        except FeedError as exc:
            raise fetched.failure(Outcome.ERROR, f"RSSHub answer is not a feed: {exc}") from None
        posts = sorted(
            feed.items,
            key=lambda i: i.published.timestamp() if i.published else 0,
            reverse=True,
        )
        return Observation(
            platform=PLATFORM,
            handle=biz,
            outcome=Outcome.OK if posts else Outcome.EMPTY,
            display_name=feed.title,
            last_post_at=newest(feed.items, utcnow()),
            recent_posts=[Post(i.id, i.published, i.title, i.url) for i in posts],
            evidence=fetched.evidence(marker=None if posts else "no items"),
        )

    async def _from_profile_page(self, biz: str, client: httpx.AsyncClient) -> Observation:
        fetched = await fetch(
            client,
            "GET",
            f"{self._base}/mp/profile_ext",
            source="page",
            headers=self._headers,
            params={"action": "home", "__biz": biz, "scene": 124},
            check_body=False,
        )
        verdict = read_profile_page(fetched.text)
        if verdict.outcome is not None and verdict.outcome.is_gone:
            return Observation(
                platform=PLATFORM,
                handle=biz,
                outcome=verdict.outcome,
                evidence=fetched.evidence(marker=verdict.marker),
            )
        _raise_if_refused(fetched)
        if verdict.outcome is Outcome.ERROR:
            target = verdict.detail or "unknown"
            raise Failure(
                Outcome.ERROR,
                f"account migrated ({verdict.marker}) to {target}: register the new __biz",
                Evidence(
                    http_status=fetched.status,
                    final_url=fetched.final_url,
                    source="page",
                    marker=verdict.marker,
                    excerpt=excerpt(f"{verdict.marker} -> {target}"),
                ),
            )
        if verdict.outcome is Outcome.AUTH_REQUIRED:
            raise fetched.failure(
                Outcome.AUTH_REQUIRED,
                "WeChat shows profiles only in its client: set wechat_cookie/wechat_token or "
                "rsshub_url to read articles",
                marker=verdict.marker,
            )
        raise fetched.failure(Outcome.ERROR, "unrecognised WeChat profile page")


def _raise_if_refused(fetched: Fetched) -> None:
    """Empty bodies, verification redirects, captcha and frequency pages say nothing."""
    if marker := marker_in_url(fetched.final_url):
        raise fetched.failure(Outcome.BLOCKED, "redirected to WeChat verification", marker=marker)
    if not fetched.text.strip():
        raise fetched.failure(Outcome.BLOCKED, "empty response body", marker="empty body")
    if marker := frequency_marker(fetched.text):
        raise fetched.failure(Outcome.RATE_LIMITED, "WeChat frequency limit", marker=marker)
    if marker := looks_like_captcha(fetched.text):
        raise fetched.failure(Outcome.BLOCKED, "WeChat captcha page", marker=marker)


def _rsshub_failure(fetched: Fetched, message: str) -> Failure:
    """An RSSHub error as a weak hint: blocked, rate_limited or error; never gone."""
    detail = f"RSSHub HTTP {fetched.status}: {message or 'no message'}"[:300]
    if marker := frequency_marker(message):
        return fetched.failure(Outcome.RATE_LIMITED, detail, marker=marker)
    hint = next((h for h in _WAF_HINTS if h.lower() in message.lower()), None)
    if hint or fetched.status == 403:
        return fetched.failure(Outcome.BLOCKED, detail, marker=hint or "HTTP 403")
    if fetched.status == 404:
        detail += " (route does not exist: check wechat_rsshub_route)"
    return fetched.failure(Outcome.ERROR, detail, marker=f"HTTP {fetched.status}")


async def _attempt(biz: str, source: Source, client: httpx.AsyncClient) -> Observation:
    """One source's answer as an Observation, whatever happened."""
    return await guarded_observe(PLATFORM, biz, lambda: source(biz, client))


def create(config: MonitorConfig) -> Monitor:
    """The WeChat adapter with the sources ``config`` makes available."""
    return WechatMonitor(config)
