"""Handle validation per platform: what is accepted, normalised and refused."""

from __future__ import annotations

import pytest

from monitors import PLATFORMS, normalize_handle


@pytest.mark.parametrize(
    ("platform", "handle", "normalised"),
    [
        ("weibo", " 1234567890 ", "1234567890"),
        ("wechat", "MzA3MDM3NjE5NQ==", "MzA3MDM3NjE5NQ=="),
        (
            "douyin",
            "MS4wLjABAAAAabcdefghijklmnopqrstuvwxyz012345",
            "MS4wLjABAAAAabcdefghijklmnopqrstuvwxyz012345",
        ),
        ("appstore", "id444934666", "444934666"),
        ("appstore", "444934666", "444934666"),
        ("huawei", "100000001", "C100000001"),
        ("xiaomi", "com.example.gov", "com.example.gov"),
        ("yyb", "com.tencent.mm", "com.tencent.mm"),
        (
            "rss",
            "https://rsshub.example.org/weibo/user/1",
            "https://rsshub.example.org/weibo/user/1",
        ),
        ("website", "http://www.jl.gov.cn/", "http://www.jl.gov.cn/"),
    ],
)
def test_accepted(platform: str, handle: str, normalised: str) -> None:
    assert normalize_handle(platform, handle) == normalised


@pytest.mark.parametrize(
    ("platform", "handle"),
    [
        ("weibo", "1234"),
        ("weibo", "12345678901234567"),
        ("weibo", "u/1234567"),
        ("wechat", "MzA3MDM3NjE5NQ"),
        ("wechat", "YWJj"),  # base64 of "abc": not a number
        ("douyin", "MS4wLjABAAAAshort"),
        ("appstore", "12345"),
        ("huawei", "C12"),
        ("xiaomi", "example"),
        ("yyb", "1com.example"),
        ("rss", "javascript:alert(1)"),
        ("website", "https://"),
    ],
)
def test_refused_with_a_message(platform: str, handle: str) -> None:
    with pytest.raises(ValueError, match=r"(ID|address) is|must be"):
        normalize_handle(platform, handle)


def test_every_platform_has_a_validator() -> None:
    for platform in PLATFORMS:
        with pytest.raises(ValueError):
            normalize_handle(platform, "")


def test_unknown_platform() -> None:
    with pytest.raises(ValueError, match="unknown platform 'myspace'"):
        normalize_handle("myspace", "x")
