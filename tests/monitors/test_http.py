"""The shared request layer: status classification, transport errors, block pages, JSON."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest

from monitors.base import Evidence, Observation, Outcome, utcnow
from monitors.http import (
    MAX_BODY_BYTES,
    Failure,
    Fetched,
    excerpt,
    failure_observation,
    fetch,
    guarded_observe,
    looks_like_captcha,
    parse_json,
    parse_json_object,
    retry_after_seconds,
    start_clock,
)

URL = "https://m.weibo.cn/api/container/getIndex"
Handler = Callable[[httpx.Request], httpx.Response]
HTML_UTF8 = {"Content-Type": "text/html; charset=utf-8"}


def client_for(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def fetch_with(handler: Handler, **kwargs: object) -> Fetched:
    async with client_for(handler) as client:
        return await fetch(client, "GET", URL, source="api", **kwargs)  # type: ignore[arg-type]


async def failure_of(handler: Handler, **kwargs: object) -> Failure:
    with pytest.raises(Failure) as caught:
        await fetch_with(handler, **kwargs)
    return caught.value


def answer(status: int, body: str = "", headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=body, headers=headers)

    return handler


async def test_ok_response_is_returned_with_its_details() -> None:
    fetched = await fetch_with(answer(200, '{"ok":1}'), params={"containerid": "1005051"})
    assert fetched.status == 200
    assert fetched.final_url == URL + "?containerid=1005051"
    assert fetched.source == "api"
    assert parse_json(fetched) == {"ok": 1}
    assert fetched.elapsed_ms >= 0


@pytest.mark.parametrize("status", [403, 412, 414, 418, 432])
async def test_refusal_statuses_are_blocked(status: int) -> None:
    failure = await failure_of(answer(status, "<html>denied</html>"))
    assert failure.outcome is Outcome.BLOCKED
    assert failure.evidence.http_status == status
    assert failure.evidence.marker == f"HTTP {status}"
    assert failure.evidence.excerpt == "<html>denied</html>"
    assert failure.evidence.source == "api"


async def test_429_is_rate_limited_with_retry_after_seconds() -> None:
    failure = await failure_of(answer(429, "slow down", {"Retry-After": "120"}))
    assert failure.outcome is Outcome.RATE_LIMITED
    assert failure.evidence.retry_after_s == 120.0


async def test_429_is_rate_limited_with_retry_after_http_date() -> None:
    when = format_datetime(utcnow() + timedelta(seconds=90), usegmt=True)
    failure = await failure_of(answer(429, "", {"Retry-After": when}))
    assert failure.outcome is Outcome.RATE_LIMITED
    assert failure.evidence.retry_after_s is not None
    assert 85 <= failure.evidence.retry_after_s <= 90


async def test_429_without_retry_after_has_none() -> None:
    failure = await failure_of(answer(429))
    assert failure.outcome is Outcome.RATE_LIMITED
    assert failure.evidence.retry_after_s is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0.0), ("30", 30.0), ("1.5", 1.5), ("-3", None), ("nan", None), ("soon", None),
     ("", None), (None, None), ("Tue, 10 Nov 2020 12:00:00 GMT", 0.0)],
)  # fmt: skip
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value) == expected


async def test_401_is_auth_required() -> None:
    assert (await failure_of(answer(401))).outcome is Outcome.AUTH_REQUIRED


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
async def test_server_errors_are_error(status: int) -> None:
    failure = await failure_of(answer(status, "Bad Gateway"))
    assert failure.outcome is Outcome.ERROR
    assert failure.evidence.http_status == status
    assert str(status) in failure.error


@pytest.mark.parametrize("status", [400, 404, 410, 302, 199])
async def test_other_unexpected_statuses_are_error_never_gone(status: int) -> None:
    failure = await failure_of(answer(status, "Not Found"))
    assert failure.outcome is Outcome.ERROR
    assert "unexpected HTTP status" in failure.error


async def test_accepted_statuses_are_left_to_the_adapter() -> None:
    body = '{"ok":0,"message":"账号有问题"}'
    fetched = await fetch_with(answer(400, body), accept={400, 404})
    assert fetched.status == 400
    assert parse_json(fetched) == {"ok": 0, "message": "账号有问题"}


async def test_redirects_are_returned_when_not_followed() -> None:
    handler = answer(302, "", {"Location": "https://weixin.sogou.com/antispider/?from=x"})
    fetched = await fetch_with(handler, follow_redirects=False)
    assert fetched.status == 302
    assert fetched.headers["location"].endswith("from=x")


async def test_redirect_to_the_weibo_visitor_system_is_blocked() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "m.weibo.cn":
            return httpx.Response(
                302, headers={"Location": "https://passport.weibo.com/visitor/visitor?a=1"}
            )
        return httpx.Response(200, text="<html><body>ok</body></html>")

    failure = await failure_of(handler)
    assert failure.outcome is Outcome.BLOCKED
    assert failure.evidence.marker == "passport.weibo.com/visitor"
    assert failure.evidence.final_url == "https://passport.weibo.com/visitor/visitor?a=1"


async def test_endless_redirects_are_blocked() -> None:
    failure = await failure_of(answer(302, "", {"Location": URL}))
    assert failure.outcome is Outcome.BLOCKED
    assert failure.evidence.marker == "TooManyRedirects"


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (httpx.ReadTimeout("read timed out"), "timeout"),
        (httpx.ConnectTimeout("connect timed out"), "timeout"),
        (httpx.ConnectError("[Errno 104] Connection reset by peer"), "Connection reset"),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            "disconnected",
        ),
        (httpx.ReadError(""), "ReadError"),
    ],
)
async def test_transport_errors_are_error(exc: Exception, words: str) -> None:
    failure = await failure_of(raising(exc))
    assert failure.outcome is Outcome.ERROR
    assert words in failure.error
    assert failure.evidence.marker == type(exc).__name__
    assert failure.evidence.http_status is None
    assert failure.evidence.final_url == URL


async def test_empty_200_body_is_blocked() -> None:
    failure = await failure_of(answer(200, "  \n"))
    assert failure.outcome is Outcome.BLOCKED
    assert failure.evidence.marker == "empty body"
    assert failure.evidence.http_status == 200


async def test_empty_body_is_fine_for_head_and_204() -> None:
    async with client_for(answer(200)) as client:
        assert (await fetch(client, "HEAD", URL, source="page")).status == 200
    assert (await fetch_with(answer(204))).status == 204


async def test_captcha_page_with_200_is_blocked() -> None:
    page = (
        "<html><head><title>验证码中间页</title></head>"
        "<body><div id='captcha_container'></div></body></html>"
    )
    failure = await failure_of(answer(200, page))
    assert failure.outcome is Outcome.BLOCKED
    assert failure.evidence.marker == "验证码中间页"


async def test_frequency_page_with_200_is_rate_limited() -> None:
    failure = await failure_of(answer(200, "<html><body>访问过于频繁，请稍后再试</body></html>"))
    assert failure.outcome is Outcome.RATE_LIMITED
    assert failure.evidence.marker == "访问过于频繁"


async def test_json_bodies_are_not_checked_for_captcha_words() -> None:
    body = '{"ok":1,"data":{"text":"警惕验证码诈骗，访问过于频繁的陌生链接不要点"}}'
    assert (await fetch_with(answer(200, body))).text == body


async def test_body_checks_can_be_turned_off() -> None:
    assert (await fetch_with(answer(200, ""), check_body=False)).text == ""


async def test_gbk_page_without_charset_is_decoded() -> None:
    page = "<html><head><meta charset='gbk'><title>政务公开</title></head></html>".encode("gbk")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=page, headers={"Content-Type": "text/html"})

    assert "政务公开" in (await fetch_with(handler)).text


def _endless(chunk: bytes, served: list[int]) -> AsyncIterator[bytes]:
    async def body() -> AsyncIterator[bytes]:
        while True:
            served.append(len(chunk))
            yield chunk

    return body()


async def test_an_endless_body_is_read_no_further_than_the_cap() -> None:
    served: list[int] = []
    page = b"<html><body>" + "政务".encode() * 1000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_endless(page, served), headers=HTML_UTF8)

    fetched = await fetch_with(handler)
    repeated = page * (MAX_BODY_BYTES // len(page) + 1)
    assert fetched.text == repeated[:MAX_BODY_BYTES].decode(errors="replace")
    assert MAX_BODY_BYTES <= sum(served) < MAX_BODY_BYTES + len(page)


async def test_a_compression_bomb_is_inflated_no_further_than_the_cap() -> None:
    # 200 MB of spaces in ~200 KB of gzip, sent in 16 KB pieces.
    bomb = gzip.compress(b"<html>" + b" " * 200_000_000, compresslevel=1)
    served: list[int] = []

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(bomb), 16_384):
            served.append(start)
            yield bomb[start : start + 16_384]

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {**HTML_UTF8, "Content-Encoding": "gzip"}
        return httpx.Response(200, content=pieces(), headers=headers)

    fetched = await fetch_with(handler, check_body=False)
    assert fetched.text.startswith("<html>") and len(fetched.text) == MAX_BODY_BYTES
    assert len(served) * 16_384 < len(bomb) // 10, "most of the bomb was never read"


async def test_an_unknown_charset_in_the_headers_is_sniffed() -> None:
    page = "<html><title>政务公开</title></html>".encode("gbk")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=page, headers={"Content-Type": "text/html; charset=x-nope"}
        )

    assert "政务公开" in (await fetch_with(handler)).text


@pytest.mark.parametrize(
    ("page", "marker"),
    [
        ("<title>验证码中间页</title>" + "x" * 10_000, "验证码中间页"),
        ("<script src='https://ssl.captcha.qq.com/TCaptcha.js'></script>", "TCaptcha"),
        ("<a href='http://weixin.sogou.com/antispider/?from=%2f'>", "antispider"),
        ("<html>环境异常 完成验证后即可继续访问 去验证</html>", "完成验证后即可继续访问"),
        (
            "var url='https://mp.weixin.qq.com/mp/wappoc_appmsgcaptcha?poc_token=1'",
            "wappoc_appmsgcaptcha",
        ),
        ("location='/mp/secitptpage/verify?x=1'", "secitptpage/verify"),
        ("<title>Sina Visitor System</title>", "Sina Visitor System"),
        ("<html>请输入验证码</html>", "验证码"),
        ("<html><title>安全验证</title>" + "<p>x</p>" * 2000, "安全验证"),
        ("<html>Please complete the CAPTCHA</html>", "captcha"),
        ("<html>访问过于频繁，请稍等再试！（错误码：414）</html>", "访问过于频繁"),
        ("https://verify.snssdk.com/verifycenter/captcha", "verifycenter"),
        ("<script src='TCaptcha.js'></script>" + "<p>请拖动</p>" * 2000, "TCaptcha"),
    ],
)
def test_looks_like_captcha_finds_markers(page: str, marker: str) -> None:
    assert looks_like_captcha(page) == marker


@pytest.mark.parametrize(
    "page",
    [
        None,
        "",
        "<html><title>某某市公安局</title><body>" + "警惕验证码诈骗。" * 1000 + "</body></html>",
        "<html><title>生态环境局</title><body>"
        + "监测点环境异常已处置。" * 1000
        + "</body></html>",
        # A government homepage whose login form embeds Tencent's or GeeTest's captcha widget.
        "<html><title>某某市人民政府</title><script src='https://ssl.captcha.qq.com/TCaptcha.js'>"
        "</script><div class='geetest_holder'></div>" + "<li>政务动态</li>" * 4000 + "</html>",
        '<?xml version="1.0"?><rss version="2.0"><channel>'
        "<item><title>警惕验证码诈骗</title></item></channel></rss>",
    ],
)
def test_looks_like_captcha_ignores_ordinary_pages(page: str | None) -> None:
    assert looks_like_captcha(page) is None


def test_excerpt_collapses_and_bounds() -> None:
    assert excerpt("  a \n\n b\t c  ") == "a b c"
    long = excerpt("字" * 1000)
    assert len(long) == 300 and long.endswith("…")
    assert len(excerpt("x" * 50, limit=10)) == 10
    assert excerpt(None) == ""
    centred = excerpt(
        "a" * 2000 + "该账号因被投诉违反" + "b" * 2000, limit=100, around="该账号因被投诉违反"
    )
    assert "该账号因被投诉违反" in centred and len(centred) <= 100


@pytest.mark.parametrize(
    ("body", "outcome", "words"),
    [
        ("", Outcome.BLOCKED, "empty"),
        ("   ", Outcome.BLOCKED, "empty"),
        ('{"ok":1,"data":{"cards":[', Outcome.ERROR, "truncated JSON"),
        ("<html>oops</html>", Outcome.ERROR, "unexpected shape"),
        ("[" * 100_000, Outcome.ERROR, "unexpected shape"),
    ],
)
def test_parse_json_failures(body: str, outcome: Outcome, words: str) -> None:
    with pytest.raises(Failure) as caught:
        parse_json(body)
    assert caught.value.outcome is outcome
    assert words in caught.value.error


def test_parse_json_object_rejects_other_json() -> None:
    assert parse_json_object('\ufeff{"a": 1}') == {"a": 1}
    with pytest.raises(Failure) as caught:
        parse_json_object("[1, 2]")
    assert caught.value.outcome is Outcome.ERROR
    assert "not an object" in caught.value.error


def test_failure_refuses_a_gone_outcome() -> None:
    with pytest.raises(ValueError, match="unknown-class"):
        Failure(Outcome.NOT_FOUND, "no")


def test_failure_observation_carries_outcome_evidence_and_time() -> None:
    evidence = Evidence(http_status=432, marker="HTTP 432")
    observation = failure_observation(
        "weibo", "1234567890", Failure(Outcome.BLOCKED, "x", evidence), start_clock()
    )
    assert observation.outcome is Outcome.BLOCKED
    assert observation.evidence == evidence
    assert observation.error == "x"
    assert observation.elapsed_ms is not None and observation.elapsed_ms >= 0


async def test_guarded_observe_turns_everything_into_observations() -> None:
    async def ok() -> Observation:
        return Observation("weibo", "1", Outcome.OK)

    async def refused() -> Observation:
        raise Failure(Outcome.RATE_LIMITED, "slow", Evidence(retry_after_s=5))

    async def bad_shape() -> Observation:
        return {"data": None}["data"]["cards"]  # type: ignore[index,no-any-return]

    async def transport() -> Observation:
        raise httpx.ReadTimeout("late")

    result = await guarded_observe("weibo", "1", ok)
    assert result.outcome is Outcome.OK and result.elapsed_ms is not None
    result = await guarded_observe("weibo", "1", refused)
    assert result.outcome is Outcome.RATE_LIMITED and result.evidence.retry_after_s == 5
    result = await guarded_observe("weibo", "1", bad_shape)
    assert result.outcome is Outcome.ERROR and result.error is not None
    assert "unexpected response shape: TypeError" in result.error
    result = await guarded_observe("weibo", "1", transport)
    assert result.outcome is Outcome.ERROR


async def test_guarded_observe_lets_programming_errors_through() -> None:
    async def bug() -> Observation:
        raise NameError("undefined_name")

    with pytest.raises(NameError):
        await guarded_observe("weibo", "1", bug)
