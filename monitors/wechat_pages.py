"""What WeChat's answers say: the MP backend's double-encoded article list and the HTML pages
mp.weixin.qq.com serves for banned, deleted, migrated and captcha-walled accounts.

Markers are from research/platforms.md §3.2 and §3.3 (airyland/we-extract, RSSHub
``lib/utils/wechat-mp.ts``, wechat-article-exporter). WeChat writes 帐号; 账号 is accepted too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from monitors.base import Outcome, Post
from monitors.parsing import parse_datetime

__all__ = [
    "GONE_MARKERS",
    "MIGRATION_MARKERS",
    "WALL_MARKER",
    "MpPage",
    "PageVerdict",
    "parse_publish_page",
    "read_profile_page",
]

#: Account-level gone markers, in the order they are checked (§3.2).
GONE_MARKERS: tuple[tuple[str, Outcome], ...] = (
    ("此帐号已被屏蔽", Outcome.BANNED),
    ("已限制跳转到小主页", Outcome.BANNED),
    ("此帐号已自主注销", Outcome.DELETED),
    ("此帐号已注销", Outcome.DELETED),
)
#: The account moved to another __biz: alive elsewhere, so never gone (§3.2).
MIGRATION_MARKERS: tuple[str, ...] = (
    "该公众号已迁移",
    "此帐号处于帐号迁移流程中",
    "此帐号已申请帐号迁移",
)
#: WeChat's page for any profile link opened outside the WeChat client: it proves nothing.
WALL_MARKER = "请在微信客户端打开链接"
_TRANSFER = re.compile(r"""transfer_target_link\s*=\s*["']([^"']+)["']""")


@dataclass(frozen=True, slots=True)
class MpPage:
    """The first page of the MP backend's article list."""

    total_count: int
    posts: list[Post]


@dataclass(frozen=True, slots=True)
class PageVerdict:
    """What a profile page says: an outcome with its marker, or None when it says nothing."""

    outcome: Outcome | None
    marker: str | None = None
    detail: str | None = None


def _decode_nested(value: Any) -> Any:
    """The MP backend nests JSON documents as strings inside JSON (double encoding)."""
    return json.loads(value) if isinstance(value, str) else value


def parse_publish_page(body: dict[str, Any]) -> MpPage:
    """Read ``publish_page`` of an appmsgpublish answer with ``base_resp.ret == 0``.

    Raises KeyError/TypeError/ValueError on an unexpected shape (the caller reports error).
    Deleted articles (``is_deleted``) are not visible content and are skipped.
    """
    page = _decode_nested(body["publish_page"])
    total = int(page.get("total_count") or page.get("publish_count") or 0)
    posts: list[Post] = []
    for entry in page["publish_list"]:
        info = _decode_nested(entry["publish_info"])
        if not info:
            continue
        sent_at = parse_datetime((info.get("sent_info") or {}).get("time"))
        for article in info.get("appmsgex") or []:
            if article.get("is_deleted"):
                continue
            published = parse_datetime(article.get("create_time")) or sent_at
            posts.append(
                Post(
                    id=str(article.get("aid") or article.get("appmsgid")),
                    published_at=published,
                    title=article.get("title"),
                    url=article.get("link"),
                )
            )
    posts.sort(key=lambda p: p.published_at.timestamp() if p.published_at else 0, reverse=True)
    return MpPage(total_count=total, posts=posts)


def read_profile_page(html: str) -> PageVerdict:
    """Classify a profile/article page by WeChat's own markers.

    Gone markers count only on a page without article content (``id="js_content"``): an
    article that quotes "此帐号已被屏蔽" is not a banned account.
    """
    text = html.replace("账号", "帐号")
    if 'id="js_content"' not in text:
        for marker, outcome in GONE_MARKERS:
            if marker in text:
                return PageVerdict(outcome, marker)
    for marker in MIGRATION_MARKERS:
        if marker in text:
            target = _TRANSFER.search(text)
            return PageVerdict(Outcome.ERROR, marker, target.group(1) if target else None)
    if WALL_MARKER in text:
        return PageVerdict(Outcome.AUTH_REQUIRED, WALL_MARKER)
    return PageVerdict(None)
