"""Xiaomi GetApps (小米应用商店) through its public detail page (platforms.md §5.2).

``GET {xiaomi_base_url}/details?id=<package>`` is an HTML page. As in easonchiu/app-parser
``parser/xiaomi.go``, the app is listed when the page has a ``.bigimg-scroll-title`` element;
its name is in ``.intro-titles h3`` and the details list carries 版本号 (version) and 更新时间
(update date).

Not listed needs a positive marker: the store's own "page does not exist" page, i.e. a page
branded 小米应用商店 that says 您访问的页面不存在 (or one of the few equivalent phrases in
NOT_LISTED_MARKERS), served with 200 or 404. A page that is neither the listing nor that page (a
redirect to the home page, a bare 404, a CDN error page, a redesign) is error, never gone.
"""

from __future__ import annotations

import re
from datetime import datetime
from html import unescape
from urllib.parse import quote

import httpx

from monitors._markets import gone, listed, shape_error
from monitors.base import Monitor, Observation, Outcome
from monitors.blockpages import frequency_marker, looks_like_captcha, marker_in_url
from monitors.config import MonitorConfig
from monitors.handles import normalize_handle
from monitors.http import Fetched, fetch, guarded_observe
from monitors.parsing import parse_datetime

__all__ = ["NOT_LISTED_MARKERS", "XiaomiMonitor", "create"]

PLATFORM = "xiaomi"
STORE_BRAND = "小米应用商店"
#: The store's wording for a page (app) that does not exist, longest first so the evidence
#: names the most specific phrase. Only counted on a branded page without the listing.
NOT_LISTED_MARKERS: tuple[str, ...] = (
    "您访问的页面不存在",
    "您访问的页面找不到",
    "该应用已下架",
    "应用不存在",
    "页面不存在",
    "页面找不到",
)
APP_PAGE = "https://app.mi.com/details?id={package}"

_LISTED = re.compile(r"""class\s*=\s*["'][^"']*\bbigimg-scroll-title\b""", re.IGNORECASE)
_INTRO_TITLES = re.compile(r"""class\s*=\s*["'][^"']*\bintro-titles\b""", re.IGNORECASE)
_H3 = re.compile(r"<h3\b[^>]*>(.*?)</h3>", re.IGNORECASE | re.DOTALL)
_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")
_VERSION = re.compile(r"版本号\s*[：:]?\s*([0-9A-Za-z][0-9A-Za-z._\-+()]*)")
_UPDATED = re.compile(
    r"更新时间\s*[：:]?\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{4}年\d{1,2}月\d{1,2}日?)"
    r"(?:\s+(\d{1,2}:\d{2}(?::\d{2})?))?"
)


class XiaomiMonitor:
    """Observes one GetApps listing per call from its detail page."""

    platform = PLATFORM

    def __init__(self, config: MonitorConfig) -> None:
        self._details_url = f"{config.xiaomi_base_url}/details"
        self._headers = {
            "User-Agent": config.desktop_user_agent,
            "Accept": "text/html,application/xhtml+xml",
            "Accept-Language": "zh-CN,zh;q=0.9",
        }

    def validate_handle(self, handle: str) -> str:
        """The Android package name, e.g. com.example.govapp."""
        return normalize_handle(PLATFORM, handle)

    async def observe(self, handle: str, client: httpx.AsyncClient) -> Observation:
        """Fetch the detail page and classify it."""
        package = self.validate_handle(handle)
        return await guarded_observe(PLATFORM, package, lambda: self._observe(package, client))

    async def _observe(self, package: str, client: httpx.AsyncClient) -> Observation:
        fetched = await fetch(
            client,
            "GET",
            self._details_url,
            source="page",
            headers=self._headers,
            params={"id": package},
            accept=(404,),
            # The page is classified here: the listing decides before any captcha wording does.
            check_body=False,
        )
        return classify(package, fetched)


def page_text(html: str) -> str:
    """The visible text of a page, tags dropped and whitespace collapsed."""
    without_code = _SCRIPT_OR_STYLE.sub(" ", html)
    return _SPACES.sub(" ", unescape(_TAG.sub(" ", without_code))).strip()


def _app_name(html: str) -> str | None:
    intro = _INTRO_TITLES.search(html)
    if intro is None:
        return None
    heading = _H3.search(html, intro.end())
    if heading is None:
        return None
    return page_text(heading.group(1)) or None


def _updated_at(text: str) -> datetime | None:
    """The 更新时间 date (a day on the real store; the simulator adds the minute)."""
    match = _UPDATED.search(text)
    if match is None:
        return None
    day, clock = match.groups()
    return parse_datetime(f"{day} {clock}" if clock else day)


def classify(package: str, fetched: Fetched) -> Observation:
    """Turn a detail page into an Observation (ok, not_found), or raise a Failure."""
    html = fetched.text
    if url_marker := marker_in_url(fetched.final_url):
        raise fetched.failure(
            Outcome.BLOCKED, "redirected to a verification page", marker=url_marker
        )
    if not html.strip():
        raise fetched.failure(Outcome.BLOCKED, "empty response body", marker="empty body")
    if fetched.status == 200 and _LISTED.search(html):
        text = page_text(html)
        version = _VERSION.search(text)
        return listed(
            PLATFORM,
            package,
            fetched,
            name=_app_name(html),
            version=version.group(1) if version else None,
            released_at=_updated_at(text),
            url=APP_PAGE.format(package=quote(package)),
        )
    if marker := frequency_marker(html):
        raise fetched.failure(Outcome.RATE_LIMITED, "platform frequency limit", marker=marker)
    if marker := looks_like_captcha(html):
        raise fetched.failure(Outcome.BLOCKED, "captcha or verification page", marker=marker)
    if STORE_BRAND in html:
        for marker in NOT_LISTED_MARKERS:
            if marker in html:
                return gone(PLATFORM, package, fetched, marker)
    if fetched.status != 200:
        raise fetched.failure(
            Outcome.ERROR, f"HTTP {fetched.status} without the store's not-found page"
        )
    raise shape_error(fetched, "neither the app's listing nor the store's not-found page")


def create(config: MonitorConfig) -> Monitor:
    """The GetApps adapter for ``config``'s store host."""
    return XiaomiMonitor(config)
