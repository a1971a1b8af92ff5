"""Read a government homepage: its title, visible text, dated list items and redirect hints.

The inspection rule W3 (首页不更新) looks at the dates shown on the homepage, so the newest
plausible date there stands for the site's last post. Gov list pages print dates as
2024-05-01, 2024/05/01, 2024.05.01, 2024年5月1日 or a year-less [05-01]. Dates in scripts,
styles and attributes are not shown to a visitor and are ignored; so are dates more than a day
in the future and years before the Chinese web existed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urljoin

from monitors.parsing import parse_datetime

__all__ = ["DatedItem", "Homepage", "read_homepage"]

_HIDDEN = frozenset({"script", "style", "noscript", "template", "title", "head"})
_ITEM_TAGS = frozenset({"li", "tr", "dd", "dl", "p"})
_YMD = re.compile(
    r"(?<![\d.])((?:19|20)\d{2})([-/.])(\d{1,2})\2(\d{1,2})(?:\s+(\d{1,2}:\d{2}(?::\d{2})?))?(?![\d])"
)
_YMD_CHINESE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日(?:\s*(\d{1,2}:\d{2}))?"
)
_MD_ALONE = re.compile(r"^[\[【(（]?\s*(\d{1,2})[-/](\d{1,2})\s*[\]】)）]?$")
_MD_BRACKETED = re.compile(r"[\[【]\s*(\d{1,2})-(\d{1,2})\s*[\]】]")
_JS_REDIRECT = re.compile(
    r"""(?:window\.|document\.|top\.|self\.)?location(?:\.href)?\s*=\s*["']([^"']+)["']"""
    r"""|location\.replace\(\s*["']([^"']+)["']\s*\)"""
)
_REFRESH_URL = re.compile(r"url\s*=\s*['\"]?([^'\";]+)", re.IGNORECASE)
#: The web reached China in 1994; earlier "dates" on a homepage are archive numbers or typos.
EARLIEST_YEAR = 1994
FUTURE_TOLERANCE = timedelta(days=1)
MAX_POSTS = 10


@dataclass(frozen=True, slots=True)
class DatedItem:
    """A date shown on the page, with the link of the list item it sits in, if any."""

    published: datetime
    title: str | None
    url: str | None


@dataclass(slots=True)
class Homepage:
    """What a visitor sees on a homepage, reduced to what the monitor needs."""

    title: str | None = None
    text: str = ""
    items: list[DatedItem] = field(default_factory=list)
    redirect_to: str | None = None

    def newest(self) -> datetime | None:
        """The newest plausible date shown on the page."""
        return max((item.published for item in self.items), default=None)

    def recent(self) -> list[DatedItem]:
        """Dated items with a link, newest first, at most MAX_POSTS, one per link."""
        seen: set[str] = set()
        linked = []
        for item in sorted(self.items, key=lambda i: i.published, reverse=True):
            if item.url and item.url not in seen:
                seen.add(item.url)
                linked.append(item)
        return linked[:MAX_POSTS]


class _Reader(HTMLParser):
    def __init__(self, base_url: str, now: datetime) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.now = now
        self.page = Homepage()
        self.hidden_depth = 0
        self.in_title = False
        self.title_parts: list[str] = []
        self.text_parts: list[str] = []
        self.scripts: list[str] = []
        self.in_script = False
        self.anchor: tuple[str | None, list[str]] | None = None
        self.item_link: tuple[str | None, str | None] = (None, None)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "title":
            self.in_title = True
        if tag in _HIDDEN and tag != "head":
            self.hidden_depth += 1
            self.in_script = tag == "script"
        elif tag in _ITEM_TAGS:
            self.item_link = (None, None)
        elif tag == "a":
            href = values.get("href")
            self.anchor = (urljoin(self.base_url, href) if href else None, [])
        elif tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh":
            match = _REFRESH_URL.search(values.get("content") or "")
            if match:
                self._redirect(match.group(1))
        elif tag == "frame" and values.get("src"):
            self._redirect(values.get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in _HIDDEN and tag != "head":
            self.hidden_depth = max(0, self.hidden_depth - 1)
            self.in_script = False
        elif tag == "a" and self.anchor is not None:
            url, parts = self.anchor
            self.item_link = (url, " ".join(parts).strip() or None)
            self.anchor = None

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
            return
        if self.hidden_depth:
            if self.in_script:
                self.scripts.append(data)
            return
        text = data.strip()
        if not text:
            return
        self.text_parts.append(text)
        if self.anchor is not None:
            self.anchor[1].append(text)
        for moment in self._dates(text):
            # A date printed inside a link has no separate title; one beside it takes the link's.
            url, title = (self.anchor[0], None) if self.anchor else self.item_link
            self.page.items.append(DatedItem(moment, title, url))

    def _redirect(self, target: str) -> None:
        if self.page.redirect_to is None and target.strip():
            self.page.redirect_to = urljoin(self.base_url, target.strip())

    def _dates(self, text: str) -> list[datetime]:
        found = []
        for match in _YMD.finditer(text):
            year, _sep, month, day, clock = match.groups()
            found.append(f"{year}-{month}-{day}" + (f" {clock}" if clock else ""))
        for match in _YMD_CHINESE.finditer(text):
            year, month, day, clock = match.groups()
            found.append(f"{year}-{month}-{day}" + (f" {clock}" if clock else ""))
        alone = _MD_ALONE.match(text)
        for match in [alone] if alone else _MD_BRACKETED.finditer(text):
            found.append(f"{match.group(1)}-{match.group(2)}")
        moments = []
        for value in found:
            moment = parse_datetime(value, self.now)
            if (
                moment is not None
                and moment.year >= EARLIEST_YEAR
                and moment <= self.now + FUTURE_TOLERANCE
            ):
                moments.append(moment)
        return moments

    def finish(self) -> Homepage:
        self.page.title = " ".join("".join(self.title_parts).split()) or None
        self.page.text = " ".join(self.text_parts)
        if not self.page.text and self.page.redirect_to is None:
            for script in self.scripts:
                match = _JS_REDIRECT.search(script)
                if match:
                    self._redirect(match.group(1) or match.group(2))
                    break
        return self.page


def read_homepage(html: str, base_url: str, now: datetime) -> Homepage:
    """Parse a homepage; never raises on malformed HTML (html.parser is lenient)."""
    reader = _Reader(base_url, now)
    reader.feed(html)
    reader.close()
    return reader.finish()
