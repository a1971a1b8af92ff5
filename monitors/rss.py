"""Feeds: an RSS 2.0, RSS 1.0, Atom or JSON Feed URL (including self-hosted RSSHub routes).

The handle is the feed URL. One observation is one GET of it (redirects followed):

- ok: the feed parsed and has items. ``last_post_at`` is the newest item date (dates more than
  a day in the future are ignored); ``display_name`` is the feed title; ``recent_posts`` are
  the items, newest first.
- empty: the feed parsed and has no items (RSSHub ``allowEmpty`` routes do this for accounts
  with no posts).
- not_found: the feed URL answered 404 with the server's own not-found page ("Not Found",
  页面不存在 …). We were given this URL as the account's feed, so its publisher saying "no such
  document" is a positive answer. A 404 from RSSHub is not: it means the *route* does not exist
  (a configuration error), so it is error.
- deleted: 410 with a page saying Gone.
- blocked / rate_limited / auth_required / error: refusals and breakage as in monitors.http;
  RSSHub's 503 (any upstream failure) and 403 (RejectError) are error and blocked. A body that
  is not a feed, is truncated, or declares a DTD/entities (refused, entity expansion) is error.

Limits: a feed says nothing of followers or verification, and a feed (or RSSHub's cache) can
be stale while the account is alive.
"""

from __future__ import annotations

import httpx

from monitors.base import Evidence, Monitor, Observation, Outcome, Post, utcnow
from monitors.blockpages import gone_page_marker
from monitors.config import MonitorConfig
from monitors.feeds import FeedError, newest, parse_feed, rsshub_error_message
from monitors.handles import normalize_handle
from monitors.http import Fetched, excerpt, fetch, guarded_observe

__all__ = ["RssMonitor", "create"]

PLATFORM = "rss"
MAX_POSTS = 20


class RssMonitor:
    """Fetches one feed per call and classifies it."""

    platform = PLATFORM

    def __init__(self, config: MonitorConfig) -> None:
        self._rsshub_url = config.rsshub_url.rstrip("/") if config.rsshub_url else None
        self._headers = {
            "User-Agent": config.desktop_user_agent,
            "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
            "application/xml;q=0.9, */*;q=0.8",
        }

    def validate_handle(self, handle: str) -> str:
        """The feed URL, which must be a full http:// or https:// address."""
        return normalize_handle(PLATFORM, handle)

    async def observe(self, handle: str, client: httpx.AsyncClient) -> Observation:
        """Fetch the feed and classify it."""
        url = self.validate_handle(handle)
        return await guarded_observe(PLATFORM, url, lambda: self._observe(url, client))

    async def _observe(self, url: str, client: httpx.AsyncClient) -> Observation:
        fetched = await fetch(
            client,
            "GET",
            url,
            source="rss",
            headers=self._headers,
            accept=(403, 404, 410, 503),
        )
        return self.classify(url, fetched)

    def _is_rsshub(self, url: str, fetched: Fetched) -> bool:
        on_our_rsshub = self._rsshub_url is not None and url.startswith(self._rsshub_url + "/")
        return on_our_rsshub or rsshub_error_message(fetched.text.encode()) is not None

    def classify(self, url: str, fetched: Fetched) -> Observation:
        """Turn a feed answer into an Observation, or raise Failure for an unknown one."""
        body = fetched.text.encode()
        if not 200 <= fetched.status < 300:
            return self._classify_status(url, fetched)
        if (message := rsshub_error_message(body)) is not None:
            raise fetched.failure(Outcome.ERROR, f"RSSHub error: {message}"[:300])
        try:
            feed = parse_feed(body, utcnow())
        except FeedError as exc:
            raise fetched.failure(Outcome.ERROR, f"not a readable feed: {exc}") from None
        posts = [
            Post(id=item.id, published_at=item.published, title=item.title, url=item.url)
            for item in feed.items
        ]
        posts.sort(key=lambda p: p.published_at.timestamp() if p.published_at else 0, reverse=True)
        return Observation(
            platform=PLATFORM,
            handle=url,
            outcome=Outcome.OK if posts else Outcome.EMPTY,
            display_name=feed.title,
            last_post_at=newest(feed.items, utcnow()),
            recent_posts=posts[:MAX_POSTS],
            evidence=Evidence(
                http_status=fetched.status,
                final_url=fetched.final_url,
                source="rss",
                marker=None if posts else "no items",
                excerpt=excerpt(fetched.text),
            ),
        )

    def _classify_status(self, url: str, fetched: Fetched) -> Observation:
        status = fetched.status
        message = rsshub_error_message(fetched.text.encode())
        if self._is_rsshub(url, fetched):
            detail = f"RSSHub HTTP {status}: {message or 'no message'}"[:300]
            if status == 403:
                raise fetched.failure(Outcome.BLOCKED, detail, marker="HTTP 403")
            if status == 404:
                detail += " (the route does not exist: a configuration error)"
            raise fetched.failure(Outcome.ERROR, detail, marker=f"HTTP {status}")
        if status == 403:
            raise fetched.failure(Outcome.BLOCKED, "request refused (HTTP 403)", marker="HTTP 403")
        if status == 503:
            raise fetched.failure(Outcome.ERROR, "upstream server error (HTTP 503)")
        marker = gone_page_marker(fetched.text)
        if marker is None:
            raise fetched.failure(
                Outcome.ERROR, f"HTTP {status} without a not-found page", marker=f"HTTP {status}"
            )
        outcome = Outcome.NOT_FOUND if status == 404 else Outcome.DELETED
        return Observation(
            platform=PLATFORM,
            handle=url,
            outcome=outcome,
            evidence=fetched.evidence(marker=f"HTTP {status}: {marker}"),
        )


def create(config: MonitorConfig) -> Monitor:
    """The feed adapter; ``config.rsshub_url`` tells RSSHub's route errors from feed 404s."""
    return RssMonitor(config)
