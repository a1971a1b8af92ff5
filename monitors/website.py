"""Government websites: is the homepage reachable, and what is the newest date it shows?

The national inspection rules (国办秘函〔2019〕19号, research/standards.md W2, W3) count a
homepage access as failed when the page has not opened within 15 s, and a site as not updated
when its homepage shows no new item. So one observation is one homepage fetch, bounded as a
whole (redirects included) by ``config.website_timeout_s``:

- ok: the page loaded (2xx after redirects) with visible text. ``last_post_at`` is the newest
  plausible date on the page (2024-05-01, 2024/05/01, 2024年5月1日, [05-01]; dates in scripts,
  a day or more in the future, or before 1994 are ignored), ``display_name`` the <title>.
- empty: the page loaded but shows no text at all (after following a meta refresh, a frameset
  or a one-line JavaScript redirect, at most twice).
- deleted: HTTP 410 with a page saying so (Gone, 已被删除 …), or a short page without dated
  news that says the site is closed or moved (该网站已关闭, 网站已关停, 网站已迁移至 …):
  how a closed gov site is announced once merged into a portal (集约化). The marker and the
  page excerpt are kept as evidence.
- blocked / rate_limited: 403/412/418/432, a WAF or captcha page, 429 or a frequency message.
- error: timeout, DNS failure, refused connection, TLS error, 404 and 5xx. None of these says
  the site is gone (a site can be down for an hour); the unreachable flag counts them over a
  week instead, as the inspection does.

Limits: pages rendered only by JavaScript look empty; geo-blocking from outside China looks
like an error or a block; dates of items without a printed date cannot be known.
"""

from __future__ import annotations

import asyncio

import httpx

from monitors.base import Evidence, Monitor, Observation, Outcome, Post, utcnow
from monitors.blockpages import CLOSED_MARKERS, frequency_marker, gone_page_marker, marker_in_url
from monitors.config import MonitorConfig
from monitors.handles import normalize_handle
from monitors.http import (
    Failure,
    Fetched,
    excerpt,
    failure_observation,
    fetch,
    guarded_observe,
    looks_like_captcha,
    start_clock,
)
from monitors.webpage import Homepage, read_homepage

__all__ = ["CLOSED_MARKERS", "WebsiteMonitor", "create"]

PLATFORM = "website"
#: A closure notice is a few lines; a page longer than this is a real site mentioning closure.
CLOSED_PAGE_MAX_TEXT = 300
MAX_HOPS = 2


class WebsiteMonitor:
    """Fetches one homepage per call and classifies what a visitor would see."""

    platform = PLATFORM

    def __init__(self, config: MonitorConfig) -> None:
        self._timeout_s = config.website_timeout_s
        self._headers = {
            "User-Agent": config.desktop_user_agent,
            "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
            "Accept-Language": "zh-CN,zh;q=0.9",
        }

    def validate_handle(self, handle: str) -> str:
        """The homepage URL, which must be a full http:// or https:// address."""
        return normalize_handle(PLATFORM, handle)

    async def observe(self, handle: str, client: httpx.AsyncClient) -> Observation:
        """Load the homepage within the inspection's time limit and classify it."""
        url = self.validate_handle(handle)
        started = start_clock()
        try:
            async with asyncio.timeout(self._timeout_s):
                return await guarded_observe(PLATFORM, url, lambda: self._observe(url, client))
        except TimeoutError:
            failure = Failure(
                Outcome.ERROR,
                f"homepage did not load within {self._timeout_s:g} s",
                Evidence(final_url=url, source="page", marker="timeout"),
            )
            return failure_observation(PLATFORM, url, failure, started)

    async def _observe(self, url: str, client: httpx.AsyncClient) -> Observation:
        target = url
        for hop in range(MAX_HOPS + 1):
            fetched = await fetch(
                client,
                "GET",
                target,
                source="page",
                headers=self._headers,
                timeout=self._timeout_s,
                accept=(404, 410),
                check_body=False,
            )
            _refuse_uninformative(fetched)
            home = read_homepage(fetched.text, fetched.final_url, utcnow())
            next_target = home.redirect_to
            if home.text or next_target is None or next_target == target or hop == MAX_HOPS:
                return classify(url, fetched, home)
            target = next_target
        raise AssertionError("unreachable: the last hop always returns")


def _refuse_uninformative(fetched: Fetched) -> None:
    """Raise Failure for answers that say nothing about the site (404, empty, WAF, captcha)."""
    if fetched.status == 404:
        raise fetched.failure(Outcome.ERROR, "homepage answered HTTP 404", marker="HTTP 404")
    if fetched.status == 410:
        return
    if not fetched.text.strip():
        raise fetched.failure(Outcome.BLOCKED, "empty response body", marker="empty body")
    if marker := marker_in_url(fetched.final_url):
        raise fetched.failure(Outcome.BLOCKED, "redirected to a verification page", marker=marker)


def _closed_marker(home: Homepage) -> str | None:
    if len(home.text) > CLOSED_PAGE_MAX_TEXT or home.recent():
        return None
    haystack = f"{home.title or ''} {home.text}"
    return next((marker for marker in CLOSED_MARKERS if marker in haystack), None)


def classify(handle: str, fetched: Fetched, home: Homepage) -> Observation:
    """Turn a loaded homepage into an Observation, or raise Failure for a refusal page."""
    if fetched.status == 410:
        if marker := gone_page_marker(fetched.text):
            return _gone(handle, fetched, f"HTTP 410: {marker}")
        raise fetched.failure(Outcome.ERROR, "HTTP 410 without a gone page", marker="HTTP 410")
    if marker := _closed_marker(home):
        return _gone(handle, fetched, marker)
    if marker := frequency_marker(fetched.text):
        raise fetched.failure(Outcome.RATE_LIMITED, "site frequency limit", marker=marker)
    if marker := looks_like_captcha(fetched.text):
        raise fetched.failure(Outcome.BLOCKED, "WAF or captcha page", marker=marker)
    evidence = fetched.evidence()
    if not home.text:
        return Observation(
            platform=PLATFORM,
            handle=handle,
            outcome=Outcome.EMPTY,
            display_name=home.title,
            evidence=Evidence(
                http_status=fetched.status,
                final_url=fetched.final_url,
                source="page",
                marker="no visible text",
                excerpt=evidence.excerpt,
            ),
        )
    posts = [
        Post(
            id=item.url or item.published.isoformat(),
            published_at=item.published,
            title=item.title,
            url=item.url,
        )
        for item in home.recent()
    ]
    return Observation(
        platform=PLATFORM,
        handle=handle,
        outcome=Outcome.OK,
        display_name=home.title,
        last_post_at=home.newest(),
        recent_posts=posts,
        evidence=Evidence(
            http_status=fetched.status,
            final_url=fetched.final_url,
            source="page",
            excerpt=excerpt(home.text),
        ),
    )


def _gone(handle: str, fetched: Fetched, marker: str) -> Observation:
    return Observation(
        platform=PLATFORM,
        handle=handle,
        outcome=Outcome.DELETED,
        evidence=fetched.evidence(marker=marker),
    )


def create(config: MonitorConfig) -> Monitor:
    """The website adapter, with the inspection's page-load time limit from ``config``."""
    return WebsiteMonitor(config)
