"""Reading Douyin's answers: the web profile and post-list APIs, and the user page's
``RENDER_DATA`` used as a fallback.

Pure functions, no I/O. Shapes and markers follow research/platforms.md §2 (f2, RSSHub,
Shark7). The page's RENDER_DATA carries the same objects in camelCase; it is converted to the
API's snake_case so one classifier reads both.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from monitors.base import Outcome, Post
from monitors.parsing import parse_count, parse_datetime

__all__ = [
    "PostPage",
    "Profile",
    "Verdict",
    "classify_user",
    "is_spider",
    "latest",
    "parse_post_page",
    "parse_profile",
    "parse_render_data",
    "render_data_parts",
]

POST_URL = "https://www.douyin.com/video/{aweme_id}"
_TITLE_LENGTH = 80
_DELETED_TEXT = "注销"
_BANNED_TEXT = "封禁"
_PRIVATE_STATE = 4
_DELETED_STATE = 1
_RENDER_DATA = re.compile(
    r"<script[^>]*\bid=[\"']RENDER_DATA[\"'][^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE
)
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


@dataclass(frozen=True, slots=True)
class Verdict:
    """A decided outcome and the exact flag or text it rests on."""

    outcome: Outcome
    marker: str


@dataclass(frozen=True, slots=True)
class Profile:
    """The fields of the ``user`` object the monitor keeps."""

    display_name: str | None
    verified: bool
    followers: int | None
    post_count: int | None


@dataclass(frozen=True, slots=True)
class PostPage:
    """One page of the post list. ``posts`` is None when ``aweme_list`` is null."""

    posts: list[Post] | None
    has_more: bool
    max_cursor: int


def classify_user(user: dict[str, Any]) -> Verdict | None:
    """Deleted, banned or private from the user object's flags; None for a readable account.

    注销: ``user_deleted`` true, or ``special_state_info.special_state == 1`` with a title
    saying 注销 (two push-bot plugins check these). Banned: a special-state title containing
    封禁 (low confidence: no sample found, so only the text counts). Private: ``secret == 1``
    or special_state 4 (Shark7 sample).
    """
    state_info = user.get("special_state_info")
    state = state_info if isinstance(state_info, dict) else {}
    title = str(state.get("title") or "")
    special_state = state.get("special_state")
    if user.get("user_deleted") is True:
        return Verdict(Outcome.DELETED, f"user_deleted:true {title}".strip())
    if special_state == _DELETED_STATE and _DELETED_TEXT in title:
        return Verdict(Outcome.DELETED, f"special_state:1 {title}")
    if _BANNED_TEXT in title:
        return Verdict(Outcome.BANNED, title)
    if user.get("secret") == 1:
        return Verdict(Outcome.PRIVATE, "secret:1")
    if special_state == _PRIVATE_STATE:
        return Verdict(Outcome.PRIVATE, f"special_state:4 {title}".strip())
    return None


def parse_profile(user: dict[str, Any]) -> Profile:
    """Name, verification (personal ``custom_verify`` or enterprise reason) and counts.

    ``follower_count`` is the Douyin-only figure (``mplatform_followers_count`` spans
    ByteDance apps); it is the one kept.
    """
    name = user.get("nickname")
    followers = user.get("follower_count")
    if followers is None:
        followers = user.get("mplatform_followers_count")
    return Profile(
        display_name=str(name) if name else None,
        verified=bool(user.get("custom_verify") or user.get("enterprise_verify_reason")),
        followers=parse_count(followers),
        post_count=parse_count(user.get("aweme_count")),
    )


def _post(item: dict[str, Any]) -> Post:
    aweme_id = str(item["aweme_id"])
    tag = item.get("tag") if isinstance(item.get("tag"), dict) else {}
    desc = item.get("desc")
    return Post(
        id=aweme_id,
        published_at=parse_datetime(item.get("create_time")),
        title=str(desc)[:_TITLE_LENGTH] or None if desc else None,
        url=POST_URL.format(aweme_id=aweme_id),
        pinned=item.get("is_top") in (1, True) or bool(tag and tag.get("is_top")),
    )


def parse_post_page(body: dict[str, Any], list_key: str = "aweme_list") -> PostPage:
    """Posts newest first (pinned ones flagged, not dropped), has_more and the next cursor."""
    items = body[list_key]
    has_more = body.get("has_more") in (1, True)
    cursor = int(body.get("max_cursor") or 0)
    if items is None:
        return PostPage(None, has_more, cursor)
    if not isinstance(items, list):
        raise TypeError(f"{list_key} is not a list")
    posts = [_post(item) for item in items if isinstance(item, dict)]
    dated = sorted((p for p in posts if p.published_at), key=lambda p: p.published_at or 0)
    undated = [p for p in posts if p.published_at is None]
    return PostPage([*reversed(dated), *undated], has_more, cursor)


def _snake(value: Any) -> Any:
    """camelCase keys to snake_case, recursively (RENDER_DATA to the API's spelling)."""
    if isinstance(value, dict):
        return {_CAMEL.sub(r"_\1", key).lower(): _snake(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_snake(item) for item in value]
    return value


def parse_render_data(html: str) -> dict[str, Any] | None:
    """The URL-encoded JSON of ``<script id="RENDER_DATA">``, or None when the page has none."""
    match = _RENDER_DATA.search(html)
    if match is None:
        return None
    data = json.loads(unquote(match.group(1)))
    return data if isinstance(data, dict) else None


def is_spider(render_data: dict[str, Any]) -> bool:
    """RENDER_DATA's own verdict that we are a crawler (older RSSHub ``isSpider``)."""
    app = render_data.get("app")
    return bool(render_data.get("isSpider") or (isinstance(app, dict) and app.get("isSpider")))


def render_data_parts(render_data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(user, post page) from the RENDER_DATA entry holding both, in the API's snake_case.

    The post page is shaped like the post-list API (``aweme_list``, ``has_more``), so
    :func:`parse_post_page` reads it. Raises KeyError when no entry has both.
    """
    for entry in render_data.values():
        if isinstance(entry, dict) and isinstance(entry.get("user"), dict) and "post" in entry:
            user = _snake(entry["user"].get("user"))
            post = _snake(entry.get("post") or {})
            page = {
                "aweme_list": post.get("data"),
                "has_more": post.get("has_more"),
                "max_cursor": post.get("max_cursor"),
            }
            if not isinstance(user, dict):
                raise KeyError("RENDER_DATA user.user")
            return user, page
    raise KeyError("no RENDER_DATA entry with user and post")


def latest(posts: list[Post]) -> datetime | None:
    """The newest publication time on a page, pinned posts included."""
    dates = [post.published_at for post in posts if post.published_at is not None]
    return max(dates) if dates else None
