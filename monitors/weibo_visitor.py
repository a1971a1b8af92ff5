"""Sina's visitor system: a ``SUB`` cookie for anonymous m.weibo.cn requests.

``genvisitor`` (POST, JSONP with a tid) then ``visitor?a=incarnate`` (sets ``SUB``/``SUBP``),
as gallery-dl's ``_sina_visitor_system`` does (research/platforms.md §1.1). Any failure is a
:class:`~monitors.http.Failure` of an unknown class: no cookie says nothing about an account.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from monitors.base import Outcome
from monitors.config import MonitorConfig
from monitors.http import Fetched, fetch
from monitors.weibo_parsing import parse_jsonp

__all__ = ["fetch_visitor_cookie"]

#: The visitor system's success code (gallery-dl ``_sina_visitor_system``).
VISITOR_OK = 20000000
# A plausible browser fingerprint for genvisitor; the visitor system only needs the shape.
_FINGERPRINT = json.dumps(
    {
        "os": "1",
        "browser": "Chrome130,0,0,0",
        "fonts": "undefined",
        "screenInfo": "1920*1080*24",
        "plugins": "",
    },
    separators=(",", ":"),
)
_VISITOR_COOKIES = ("SUB", "SUBP")


async def fetch_visitor_cookie(client: httpx.AsyncClient, config: MonitorConfig) -> str:
    """Run genvisitor then incarnate on the passport; return "SUB=…; SUBP=…"."""
    base = config.weibo_passport_url
    headers = {
        "User-Agent": config.desktop_user_agent,
        "Referer": f"{base}/visitor/visitor?entry=miniblog&a=enter",
    }
    # The passport's own URLs contain "/visitor", which the shared body check reads as a
    # visitor-system redirect, so these answers are checked here instead.
    generated = await fetch(
        client,
        "POST",
        f"{base}/visitor/genvisitor",
        source="visitor",
        headers=headers,
        data={"cb": "gen_callback", "fp": _FINGERPRINT},
        check_body=False,
    )
    data = _visitor_data(generated)
    tid = str(data["tid"])
    confidence = int(data.get("confidence") or 100)
    incarnated = await fetch(
        client,
        "GET",
        f"{base}/visitor/visitor",
        source="visitor",
        headers=headers,
        params={
            "a": "incarnate",
            "t": tid,
            "w": "3" if data.get("new_tid") else "2",
            "c": f"{confidence:03d}",
            "cb": "cross_domain",
            "from": "weibo",
        },
        check_body=False,
    )
    cookies = _set_cookies(incarnated.headers)
    if "SUB" not in cookies:
        body_data = _visitor_data(incarnated)
        cookies = {
            name: str(body_data[name.lower()])
            for name in _VISITOR_COOKIES
            if body_data.get(name.lower())
        }
    if "SUB" not in cookies:
        raise incarnated.failure(Outcome.BLOCKED, "visitor system gave no SUB cookie")
    return "; ".join(f"{name}={cookies[name]}" for name in _VISITOR_COOKIES if name in cookies)


def _visitor_data(fetched: Fetched) -> dict[str, Any]:
    """``data`` of a visitor-system JSONP answer, or Failure (never a shape error)."""
    if not fetched.text.strip():
        raise fetched.failure(Outcome.BLOCKED, "visitor system: empty body", marker="empty body")
    try:
        payload = parse_jsonp(fetched.text)
    except ValueError:
        raise fetched.failure(Outcome.BLOCKED, "visitor system: not a JSONP answer") from None
    data = payload.get("data")
    if payload.get("retcode") != VISITOR_OK or not isinstance(data, dict):
        marker = f"retcode:{payload.get('retcode')}"
        raise fetched.failure(Outcome.BLOCKED, "visitor system refused", marker=marker)
    return data


def _set_cookies(headers: httpx.Headers) -> dict[str, str]:
    """Name/value pairs of the visitor cookies set by a response."""
    found = {}
    for line in headers.get_list("set-cookie"):
        name, _, rest = line.partition("=")
        value = rest.split(";", 1)[0]
        if name.strip() in _VISITOR_COOKIES and value:
            found[name.strip()] = value
    return found
