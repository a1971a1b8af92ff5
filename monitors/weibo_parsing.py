"""Reading Weibo's answers: profile and post cards of the m.weibo.cn container API, the PC
profile API used to confirm a "no content" answer, and the visitor-system JSONP.

Pure functions, no I/O, so the adapter's decisions can be tested on their own. Shapes and
markers follow research/platforms.md §1 (weibo-crawler, RSSHub, gallery-dl).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from monitors.base import Outcome, Post
from monitors.parsing import parse_count, parse_datetime

__all__ = [
    "NO_CONTENT_MSG",
    "Profile",
    "Verdict",
    "account_gone_verdict",
    "classify_container_answer",
    "classify_pc_profile",
    "parse_jsonp",
    "parse_posts",
    "parse_profile",
    "pc_profile_fields",
]

#: m.weibo.cn's answer for a uid with nothing to show: never existed, gone, or login-only.
NO_CONTENT_MSG = "这里还没有内容"

# Account-level texts Weibo shows for a closed or suspended account (§1.3). Order matters:
# the self-closed text is checked before the generic ones.
_GONE_TEXTS: tuple[tuple[str, Outcome], ...] = (
    ("该账号因用户自行申请关闭", Outcome.DELETED),
    ("该账号因被投诉违反", Outcome.BANNED),
    ("该账号行为异常，存在安全风险", Outcome.BANNED),
)
_CAPTCHA_URL = re.compile(r"captcha|verify|security\.weibo|geetest", re.IGNORECASE)
_LOGIN_URL = re.compile(r"passport\.weibo|login\.sina\.com\.cn|/signin", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_TITLE_LENGTH = 80
POST_URL = "https://m.weibo.cn/status/{bid}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A decided outcome and the exact text, flag or code it rests on."""

    outcome: Outcome
    marker: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """The fields of ``data.userInfo`` the monitor keeps."""

    display_name: str | None
    verified: bool | None
    followers: int | None
    post_count: int | None
    posts_containerid: str


def account_gone_verdict(text: str) -> Verdict | None:
    """The gone outcome named by an account-level Weibo message, or None.

    Only for messages about the checked account itself (a top-level ``msg`` or a sorry-page
    ``msg``): the same texts inside a post's ``retweeted_status`` describe someone else.
    """
    for needle, outcome in _GONE_TEXTS:
        if needle in text:
            return Verdict(outcome, needle)
    return None


def classify_container_answer(body: Any) -> Verdict | None:
    """Classify a getIndex JSON answer that is not ``ok: 1``; None when it is ``ok: 1``.

    ``ok: -100`` is the login wall (auth_required; the caller refreshes a visitor cookie
    first). ``ok: 0`` with a captcha URL is blocked; "这里还没有内容" is the ambiguous
    no-content answer (outcome EMPTY, confirmed by the caller); an account-level gone text is
    gone; anything else, such as ``ok: 0`` with no message (a soft throttle), is blocked.
    """
    if not isinstance(body, dict):
        return Verdict(Outcome.ERROR, "", f"expected a JSON object, got {type(body).__name__}")
    ok = body.get("ok")
    url = str(body.get("url") or "")
    msg = str(body.get("msg") or "")
    if ok == 1:
        return None
    if ok == -100:
        return Verdict(
            Outcome.AUTH_REQUIRED, "ok:-100", "login required (cookie missing or expired)"
        )
    if ok == 0:
        if url and _CAPTCHA_URL.search(url):
            return Verdict(Outcome.BLOCKED, url, "captcha or verification requested")
        if url and _LOGIN_URL.search(url):
            return Verdict(Outcome.AUTH_REQUIRED, url, "redirected to the login page")
        if NO_CONTENT_MSG in msg:
            return Verdict(Outcome.EMPTY, NO_CONTENT_MSG)
        gone = account_gone_verdict(msg)
        if gone is not None:
            return gone
        return Verdict(Outcome.BLOCKED, f"ok:0 {msg}".strip(), "ok:0 without a known message")
    return Verdict(Outcome.ERROR, f"ok:{ok!r}", "unexpected value of ok")


def classify_pc_profile(status: int, body: Any) -> Verdict | None:
    """Classify a weibo.com ``/ajax/profile/info`` answer; None when it shows a live user.

    Gone only on the markers of §1.3: ``error_type: "link"`` to a ``sorry?usernotexists`` page
    (its URL-encoded ``msg`` tells banned from self-closed; without one, not_found) and the
    HTTP 400 ``账号有问题`` answer of a frozen account (banned). Everything else is an
    unknown-class verdict.
    """
    if not isinstance(body, dict):
        return Verdict(Outcome.ERROR, "", "PC profile answer is not a JSON object")
    message = str(body.get("message") or body.get("msg") or "")
    if status == 400 and "账号有问题" in message:
        return Verdict(Outcome.BANNED, "账号有问题", "the account is frozen or risk-controlled")
    if body.get("ok") == 1:
        user = (body.get("data") or {}).get("user")
        if isinstance(user, dict):
            return None
        return Verdict(Outcome.ERROR, "", "PC profile ok:1 without data.user")
    url = str(body.get("url") or "")
    if body.get("error_type") == "link" and "usernotexists" in url:
        sorry_msg = " ".join(parse_qs(urlsplit(url).query).get("msg", []))
        gone = account_gone_verdict(sorry_msg)
        if gone is not None:
            return gone
        return Verdict(Outcome.NOT_FOUND, "sorry?usernotexists", "the user does not exist")
    return classify_container_answer(body) or Verdict(Outcome.ERROR, "", "unexpected PC answer")


def _is_verified(user: dict[str, Any]) -> bool | None:
    flag = user.get("verified")
    if flag is None:
        return None
    return bool(flag) and user.get("verified_type", 0) != -1


def parse_profile(uid: str, body: dict[str, Any]) -> Profile:
    """Read ``data.userInfo`` (raises KeyError/TypeError on a shape without it).

    Counts may be ints or strings such as "1.2万". The posts container comes from the
    ``weibo`` tab (RSSHub), defaulting to ``107603{uid}``.
    """
    data = body["data"]
    user = data["userInfo"]
    if not isinstance(user, dict):
        raise TypeError("data.userInfo is not an object")
    containerid = f"107603{uid}"
    tabs = (data.get("tabsInfo") or {}).get("tabs") or []
    for tab in tabs:
        if isinstance(tab, dict) and tab.get("tab_type") == "weibo" and tab.get("containerid"):
            containerid = str(tab["containerid"])
    name = user.get("screen_name")
    return Profile(
        display_name=str(name) if name else None,
        verified=_is_verified(user),
        followers=parse_count(user.get("followers_count")),
        post_count=parse_count(user.get("statuses_count")),
        posts_containerid=containerid,
    )


def pc_profile_fields(body: dict[str, Any]) -> Profile:
    """Read ``data.user`` of a PC profile answer (display name, counts, verification)."""
    user = body["data"]["user"]
    uid = str(user.get("idstr") or user.get("id") or "")
    name = user.get("screen_name")
    return Profile(
        display_name=str(name) if name else None,
        verified=_is_verified(user),
        followers=parse_count(user.get("followers_count")),
        post_count=parse_count(user.get("statuses_count")),
        posts_containerid=f"107603{uid}",
    )


def _mblogs(cards: list[Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(card, mblog) pairs of every post card; type-11 cards wrap theirs in ``card_group``."""
    found: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for card in cards:
        if not isinstance(card, dict):
            continue
        if str(card.get("card_type")) == "11":
            found.extend(_mblogs(card.get("card_group") or []))
        elif str(card.get("card_type")) == "9" and isinstance(card.get("mblog"), dict):
            found.append((card, card["mblog"]))
    return found


def _is_pinned(card: dict[str, Any], mblog: dict[str, Any]) -> bool:
    return (
        mblog.get("mblogtype") == 2
        or mblog.get("isTop") in (1, True)
        or str(card.get("profile_type_id") or "").startswith("proweibotop")
    )


def _title(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    plain = _TAG.sub("", text).strip()
    return plain[:_TITLE_LENGTH] or None


def parse_posts(body: dict[str, Any], now: datetime) -> list[Post]:
    """The first page of posts, newest first; pinned posts are flagged, not dropped.

    Relative ``created_at`` forms ("5分钟前", "昨天 12:30") are read against ``now``.
    """
    cards = body["data"]["cards"]
    if not isinstance(cards, list):
        raise TypeError("data.cards is not a list")
    posts = []
    for card, mblog in _mblogs(cards):
        bid = mblog.get("bid")
        posts.append(
            Post(
                id=str(mblog.get("id") or mblog.get("mid") or bid),
                published_at=parse_datetime(mblog.get("created_at"), now),
                title=_title(mblog.get("text")),
                url=POST_URL.format(bid=bid) if bid else None,
                pinned=_is_pinned(card, mblog),
            )
        )
    dated = sorted((p for p in posts if p.published_at), key=lambda p: p.published_at or now)
    undated = [p for p in posts if p.published_at is None]
    return [*reversed(dated), *undated]


_JSONP = re.compile(r"^[^(]*\((.*)\)[;\s]*$", re.DOTALL)


def parse_jsonp(text: str) -> dict[str, Any]:
    """The object inside ``callback({...});`` (raises ValueError when there is none)."""
    match = _JSONP.match(text.strip())
    if match is None:
        raise ValueError("not a JSONP answer")
    value = json.loads(match.group(1))
    if not isinstance(value, dict):
        raise ValueError("JSONP payload is not an object")
    return value
