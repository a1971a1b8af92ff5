"""Per-platform handle validation, shared by the adapters and the registry.

Messages are written for a supervisor filling in a spreadsheet, not for a programmer.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from urllib.parse import urlsplit

__all__ = ["URL_PLATFORMS", "normalize_handle"]

#: Platforms whose handle is a URL we fetch as given: a user-supplied address.
URL_PLATFORMS = frozenset({"rss", "website"})

_DIGITS = re.compile(r"^\d+$")
_DOUYIN_SEC_UID = re.compile(r"^MS4wLjABAAAA[A-Za-z0-9_-]{20,}$")
_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
_HUAWEI_APP_ID = re.compile(r"^C?\d{5,}$")


def _weibo(handle: str) -> str:
    if not _DIGITS.match(handle) or not 5 <= len(handle) <= 16:
        raise ValueError(
            "a Weibo account ID is the numeric uid (5 to 16 digits, e.g. 1234567890), "
            "as in weibo.com/u/1234567890"
        )
    return handle


def _wechat(handle: str) -> str:
    try:
        decoded = base64.b64decode(handle, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if not decoded.isdigit():
        raise ValueError(
            "a WeChat official-account ID is its __biz value (e.g. MzA3MDM3NjE5NQ==), "
            "found in the __biz= parameter of any of its article links"
        )
    return handle


def _douyin(handle: str) -> str:
    if not _DOUYIN_SEC_UID.match(handle):
        raise ValueError(
            "a Douyin account ID is the sec_uid from its profile link "
            "(www.douyin.com/user/MS4wLjABAAAA…), not the short Douyin number"
        )
    return handle


def _appstore(handle: str) -> str:
    bare = handle[2:] if handle.lower().startswith("id") else handle
    if not _DIGITS.match(bare) or not 6 <= len(bare) <= 12:
        raise ValueError(
            "an App Store app ID is the number in its link (apps.apple.com/cn/app/id444934666 "
            "→ 444934666)"
        )
    return bare


def _huawei(handle: str) -> str:
    if not _HUAWEI_APP_ID.match(handle):
        raise ValueError(
            "a Huawei AppGallery app ID is C followed by digits, as in "
            "appgallery.huawei.com/app/C100000001"
        )
    return handle if handle.startswith("C") else f"C{handle}"


def _package(market: str) -> Callable[[str], str]:
    def check(handle: str) -> str:
        if not _PACKAGE.match(handle) or len(handle) > 255:
            raise ValueError(
                f"a {market} app ID is the Android package name, e.g. com.example.govapp"
            )
        return handle

    return check


def _url(kind: str) -> Callable[[str], str]:
    def check(handle: str) -> str:
        parts = urlsplit(handle)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(handle) > 2048:
            raise ValueError(f"a {kind} must be a full http:// or https:// address")
        return handle

    return check


_VALIDATORS: dict[str, Callable[[str], str]] = {
    "weibo": _weibo,
    "wechat": _wechat,
    "douyin": _douyin,
    "appstore": _appstore,
    "huawei": _huawei,
    "xiaomi": _package("Xiaomi GetApps"),
    "yyb": _package("Tencent MyApp (应用宝)"),
    "rss": _url("feed address"),
    "website": _url("website address"),
}


def normalize_handle(platform: str, handle: str) -> str:
    """Return the canonical form of ``handle`` on ``platform``.

    Raises ValueError with a readable message when the handle cannot belong to the platform or
    the platform is not supported.
    """
    validator = _VALIDATORS.get(platform)
    if validator is None:
        raise ValueError(
            f"unknown platform {platform!r}; supported: {', '.join(sorted(_VALIDATORS))}"
        )
    return validator(handle.strip())
