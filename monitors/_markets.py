"""What the app-store adapters (appstore, huawei, xiaomi, yyb) share.

An app listing has no followers or posts; its sign of life is the current version's release.
Each adapter reports that release as the one "post" of the first page, so the 14-day and
zombie rules read apps the same way they read accounts.
"""

from __future__ import annotations

from datetime import datetime

from monitors.base import Observation, Outcome, Post
from monitors.http import Failure, Fetched

__all__ = ["gone", "listed", "shape_error"]


def listed(
    platform: str,
    handle: str,
    fetched: Fetched,
    *,
    name: str | None,
    version: str | None,
    released_at: datetime | None,
    url: str | None = None,
) -> Observation:
    """An ``ok`` observation for a listed app: its name, and its current version as a post.

    Followers and post counts stay None: stores publish ratings and downloads, which are not
    the same thing and would mislead the rules that read those fields.
    """
    posts: list[Post] = []
    if version:
        title = f"{name} {version}" if name else version
        posts.append(Post(id=version, published_at=released_at, title=title, url=url))
    return Observation(
        platform=platform,
        handle=handle,
        outcome=Outcome.OK,
        display_name=name or None,
        last_post_at=released_at,
        recent_posts=posts,
        evidence=fetched.evidence(),
    )


def gone(platform: str, handle: str, fetched: Fetched, marker: str) -> Observation:
    """A ``not_found`` observation, decided by ``marker``: the store's own "not listed" answer.

    Stores cannot tell a removal from an id that never existed, so not_found is the only gone
    outcome an app adapter gives.
    """
    return Observation(
        platform=platform,
        handle=handle,
        outcome=Outcome.NOT_FOUND,
        evidence=fetched.evidence(marker=marker),
        error=None,
    )


def shape_error(fetched: Fetched, what: str) -> Failure:
    """An ``error`` Failure for a body that is neither a listing nor a "not listed" answer."""
    return fetched.failure(Outcome.ERROR, f"unexpected response shape: {what}")
