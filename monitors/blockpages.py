"""Recognise captcha, WAF and frequency-limit pages that platforms serve instead of content.

Markers come in three strengths. Strong markers name a verification interstitial (Douyin's
验证码中间页, Sogou's antispider, WeChat's wappoc_appmsgcaptcha, Sina's visitor system) and
count anywhere in a page. Widget markers name a captcha script (Tencent's TCaptcha, GeeTest,
Douyin's verify SDK) that an ordinary page may embed for its login or search form, so they
count only in a page small enough to be an interstitial. Weak markers are ordinary words
(验证码, 安全验证, 访问过于频繁) that a government page may well print itself (a police
account warning about 验证码 scams, an environment bureau reporting 环境异常), so they count
only in the page title or in a short page.
"""

from __future__ import annotations

import re

__all__ = [
    "CLOSED_MARKERS",
    "GONE_PAGE_MARKERS",
    "frequency_marker",
    "gone_page_marker",
    "looks_like_captcha",
    "marker_in_url",
]

#: Names of verification interstitials: found anywhere in a page, they decide "blocked".
STRONG_CAPTCHA_MARKERS: tuple[str, ...] = (
    "验证码中间页",  # Douyin
    "antispider",  # Sogou (WeChat search)
    "wappoc_appmsgcaptcha",  # WeChat
    "secitptpage/verify",  # WeChat
    "完成验证后即可继续访问",  # WeChat
    "Sina Visitor System",  # Weibo visitor system
    "passport.weibo.com/visitor",  # Weibo visitor system
)

#: Captcha scripts and widgets: "blocked" only in a page no bigger than an interstitial.
WIDGET_CAPTCHA_MARKERS: tuple[str, ...] = (
    "TCaptcha",  # Tencent
    "captcha_container",  # Douyin slider
    "verifycenter",  # Douyin / ByteDance verify service
    "geetest_",  # GeeTest slider widgets
)

#: Ordinary words that mean "blocked" only in a title or a short interstitial page.
WEAK_CAPTCHA_MARKERS: tuple[str, ...] = (
    "验证码",
    "安全验证",
    "环境异常",
    "人机验证",
    "滑动验证",
    "拖动滑块",
    "请完成验证",
    "网站防火墙",
    "访问请求可能对网站造成安全威胁",
    "captcha",
    "verify",
    "access denied",
)

#: A platform's own "too many requests" wording: rate_limited rather than blocked.
FREQUENCY_MARKERS: tuple[str, ...] = (
    "访问过于频繁",
    "请求过于频繁",
    "操作频繁",
    "操作过于频繁",
    "访问太频繁",
    "访问频率过快",
    "freq control",
)

#: Pieces of a final URL after redirects that mean we were sent to verification.
URL_MARKERS: tuple[str, ...] = (
    "passport.weibo.com/visitor",
    "/antispider",
    "wappoc_appmsgcaptcha",
    "secitptpage/verify",
    "verifycenter",
    "/captcha",
)

# Interstitials are small; real pages that merely mention 验证码 are not. Captcha pages carry
# their widget's script inline, so they may be larger than a page of plain words.
SHORT_PAGE_CHARS = 4096
WIDGET_PAGE_CHARS = 32_768
_FEED = re.compile(r"<(?:rss|feed|rdf:RDF)[\s>]", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.{0,300}?)</title>", re.IGNORECASE | re.DOTALL)


def _weak_scope(text: str) -> str:
    """The part of a page where weak markers count: all of a short page, else its title.

    Feeds are data, like JSON: an item titled 警惕验证码诈骗 is news, not a captcha.
    """
    if _FEED.search(text[:512]):
        return ""
    if len(text) <= SHORT_PAGE_CHARS:
        return text.lower()
    title = _TITLE.search(text[: SHORT_PAGE_CHARS * 4])
    return title.group(1).lower() if title else ""


def _first_in(haystack: str, markers: tuple[str, ...]) -> str | None:
    for marker in markers:
        if marker.lower() in haystack:
            return marker
    return None


def looks_like_captcha(text: str | None) -> str | None:
    """The captcha/WAF marker this page carries, or None if it does not look like one.

    Frequency-limit wording counts too (it is a refusal page); callers that want to tell a
    rate limit apart check :func:`frequency_marker` first.
    """
    if not text:
        return None
    for marker in STRONG_CAPTCHA_MARKERS:
        if marker in text:
            return marker
    if len(text) <= WIDGET_PAGE_CHARS:
        for marker in WIDGET_CAPTCHA_MARKERS:
            if marker in text:
                return marker
    scope = _weak_scope(text)
    return _first_in(scope, WEAK_CAPTCHA_MARKERS) or _first_in(scope, FREQUENCY_MARKERS)


def frequency_marker(text: str | None) -> str | None:
    """The platform's own frequency-limit wording in a title or short page, or None."""
    if not text:
        return None
    return _first_in(_weak_scope(text), FREQUENCY_MARKERS)


def marker_in_url(url: str | None) -> str | None:
    """The verification-page marker in a (final, post-redirect) URL, or None."""
    if not url:
        return None
    lowered = url.lower()
    return _first_in(lowered, URL_MARKERS)


#: How a closed or merged government site says so (checked only on short, undated pages).
CLOSED_MARKERS: tuple[str, ...] = (
    "该网站已关闭",
    "本网站已关闭",
    "网站已关停",
    "网站已停止运行",
    "网站已永久关闭",
    "网站已下线",
    "网站已迁移至",
    "网站已整合至",
)
#: Words of a server's own 404/410 page (lower case; nginx, Apache, IIS, Tomcat, gov CMSs).
GONE_PAGE_MARKERS: tuple[str, ...] = (
    "not found",
    "gone",
    "页面不存在",
    "网页不存在",
    "不存在或已被删除",
    "已被删除",
    "找不到",
    *CLOSED_MARKERS,
)


def gone_page_marker(text: str) -> str | None:
    """The words by which a 404/410 page says the resource is gone, or None.

    A status alone is not enough: a gateway or WAF can answer 404/410 with anything, so the
    page must be an HTML or text error page that says so itself.
    """
    head = text[:4096]
    if head.lstrip()[:1] in ("{", "["):
        return None
    lowered = head.lower()
    return next((marker for marker in GONE_PAGE_MARKERS if marker in lowered), None)
