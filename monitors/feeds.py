"""Parse RSS 2.0, RSS 1.0 (RDF), Atom and JSON Feed documents into a flat list of items.

Used by the rss adapter and by the wechat adapter's RSSHub source. Only the standard library
is used. XML documents that declare a DTD or entities are refused outright: the standard
``xml.etree`` parser expands internal entities, so a "billion laughs" feed could exhaust memory,
and no real feed needs a DTD.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree

from monitors.parsing import parse_datetime

__all__ = [
    "FeedError",
    "FeedItem",
    "ParsedFeed",
    "looks_like_feed",
    "newest",
    "parse_feed",
    "rsshub_error_message",
]

_ATOM = "{http://www.w3.org/2005/Atom}"
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_RSS1 = "{http://purl.org/rss/1.0/}"
_DC_DATE = "{http://purl.org/dc/elements/1.1/}date"
_DTD = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
_FEED_ROOT = re.compile(rb"<(?:rss|feed|rdf:RDF)\b", re.IGNORECASE)
# Dates further ahead than this are clock errors or scheduled posts, not evidence of life.
FUTURE_TOLERANCE = timedelta(days=1)


class FeedError(ValueError):
    """The document is not a feed we can read (or is one we refuse to read)."""


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry of a feed; ``published`` is the best date the entry carries, if any."""

    id: str
    title: str | None
    url: str | None
    published: datetime | None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed's title, link and items in document order."""

    kind: str
    title: str | None
    link: str | None
    items: list[FeedItem] = field(default_factory=list)


def looks_like_feed(body: bytes) -> bool:
    """Whether the body starts like an XML feed or a JSON Feed (cheap sniff, no parsing)."""
    head = body[:2048].lstrip()
    return head.startswith(b"{") or bool(_FEED_ROOT.search(head))


def parse_feed(body: bytes, now: datetime) -> ParsedFeed:
    """Parse an RSS, Atom or JSON Feed document. Raises FeedError when it is none of them.

    ``now`` anchors relative dates; see :func:`monitors.parsing.parse_datetime`.
    """
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise FeedError("empty document")
    if stripped.startswith(b"{"):
        return _parse_json_feed(stripped, now)
    if _DTD.search(stripped):
        raise FeedError("document declares a DTD or entities; refused")
    try:
        root = ElementTree.fromstring(stripped)  # noqa: S314 - DTDs refused above
    except ElementTree.ParseError as exc:
        raise FeedError(f"not well-formed XML: {exc}") from exc
    if root.tag == "rss":
        return _parse_rss2(root, now)
    if root.tag == f"{_ATOM}feed":
        return _parse_atom(root, now)
    if root.tag == f"{_RDF}RDF":
        return _parse_rss1(root, now)
    raise FeedError(f"unexpected root element <{root.tag}>")


def newest(items: list[FeedItem], now: datetime) -> datetime | None:
    """The latest plausible date over all items (future dates beyond a day are ignored)."""
    dates = [
        item.published
        for item in items
        if item.published is not None and item.published <= now + FUTURE_TOLERANCE
    ]
    return max(dates, default=None)


def _text(element: ElementTree.Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _first_date(now: datetime, *values: str | None) -> datetime | None:
    for value in values:
        if value:
            parsed = parse_datetime(value, now)
            if parsed is not None:
                return parsed
    return None


def _parse_rss2(root: ElementTree.Element, now: datetime) -> ParsedFeed:
    channel = root.find("channel")
    if channel is None:
        raise FeedError("<rss> without <channel>")
    items = []
    for index, item in enumerate(channel.findall("item")):
        link = _text(item.find("link"))
        items.append(
            FeedItem(
                id=_text(item.find("guid")) or link or str(index),
                title=_text(item.find("title")),
                url=link,
                published=_first_date(now, _text(item.find("pubDate")), _text(item.find(_DC_DATE))),
            )
        )
    return ParsedFeed("rss", _text(channel.find("title")), _text(channel.find("link")), items)


def _atom_link(element: ElementTree.Element) -> str | None:
    for link in element.findall(f"{_ATOM}link"):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link.get("href")
    return None


def _parse_atom(root: ElementTree.Element, now: datetime) -> ParsedFeed:
    items = []
    for index, entry in enumerate(root.findall(f"{_ATOM}entry")):
        link = _atom_link(entry)
        items.append(
            FeedItem(
                id=_text(entry.find(f"{_ATOM}id")) or link or str(index),
                title=_text(entry.find(f"{_ATOM}title")),
                url=link,
                published=_first_date(
                    now,
                    _text(entry.find(f"{_ATOM}published")),
                    _text(entry.find(f"{_ATOM}updated")),
                ),
            )
        )
    return ParsedFeed("atom", _text(root.find(f"{_ATOM}title")), _atom_link(root), items)


def _parse_rss1(root: ElementTree.Element, now: datetime) -> ParsedFeed:
    channel = root.find(f"{_RSS1}channel")
    items = []
    for index, item in enumerate(root.findall(f"{_RSS1}item")):
        link = _text(item.find(f"{_RSS1}link"))
        items.append(
            FeedItem(
                id=item.get(f"{_RDF}about") or link or str(index),
                title=_text(item.find(f"{_RSS1}title")),
                url=link,
                published=_first_date(now, _text(item.find(_DC_DATE))),
            )
        )
    title = _text(channel.find(f"{_RSS1}title")) if channel is not None else None
    link = _text(channel.find(f"{_RSS1}link")) if channel is not None else None
    return ParsedFeed("rdf", title, link, items)


def _optional_str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _parse_json_feed(body: bytes, now: datetime) -> ParsedFeed:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedError(f"not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise FeedError("JSON document is not a JSON Feed")
    raw_items = document.get("items") or []
    if not isinstance(raw_items, list):
        raise FeedError("JSON Feed items is not a list")
    items = []
    for index, raw in enumerate(raw_items):
        if not isinstance(raw, dict):
            raise FeedError("JSON Feed item is not an object")
        url = _optional_str(raw.get("url"))
        items.append(
            FeedItem(
                id=_optional_str(raw.get("id")) or url or str(index),
                title=_optional_str(raw.get("title")),
                url=url,
                published=_first_date(
                    now,
                    _optional_str(raw.get("date_published")),
                    _optional_str(raw.get("date_modified")),
                ),
            )
        )
    return ParsedFeed(
        "jsonfeed",
        _optional_str(document.get("title")),
        _optional_str(document.get("home_page_url")),
        items,
    )


_RSSHUB_HTML_MESSAGE = re.compile(
    r'class="[^"]*\bdetails\b[^"]*">(.*?)</code>', re.DOTALL | re.IGNORECASE
)


def rsshub_error_message(body: bytes) -> str | None:
    """The message of an RSSHub error answer, or None when the body is not one.

    RSSHub answers errors as ``{"error": {"message": ...}}`` when ``?format=json`` was asked
    (or it runs as a package) and otherwise as its "Looks like something went wrong" page with
    the message in ``<code class="... details">`` (RSSHub ``lib/errors/index.tsx``,
    ``lib/views/error.tsx``).
    """
    head = body[:65536]
    if head.lstrip().startswith(b"{"):
        try:
            document = json.loads(head)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        error = document.get("error") if isinstance(document, dict) else None
        if isinstance(error, dict):
            return str(error.get("message") or "")
        return None
    text = head.decode("utf-8", errors="replace")
    if "Looks like something went wrong" not in text or "RSSHub" not in text:
        return None
    match = _RSSHUB_HTML_MESSAGE.search(text)
    return match.group(1).strip() if match else ""
