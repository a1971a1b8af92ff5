"""The upstream client keeps no cookies (adapters send the ones they need themselves), and its
transports read no more of a body than fetch keeps."""

from __future__ import annotations

import asyncio
import itertools
import zlib

import httpx
import pytest

from app.checks.pipeline import make_http_client
from app.checks.transport import AiohttpTransport, UpstreamClient
from app.config import Settings
from monitors.http import MAX_BODY_BYTES, fetch


def _setting_cookies(request: httpx.Request) -> httpx.Response:
    sent = request.headers.get("cookie")
    return httpx.Response(
        200,
        headers=[("set-cookie", "acw_tc=waf-token; Path=/"), ("set-cookie", "SESSION=s1")],
        json={"cookie_sent": sent},
    )


async def test_set_cookie_answers_are_not_sent_back_on_the_next_check() -> None:
    async with UpstreamClient(transport=httpx.MockTransport(_setting_cookies)) as client:
        first = await client.get("https://www.example.gov.cn/")
        second = await client.get("https://www.example.gov.cn/")
        explicit = await client.get("https://m.weibo.cn/api", headers={"Cookie": "SUB=visitor"})
    assert first.json() == {"cookie_sent": None}
    assert second.json() == {"cookie_sent": None}  # a plain httpx.AsyncClient sends acw_tc=…
    assert explicit.json() == {"cookie_sent": "SUB=visitor"}
    assert not client.cookies and len(client.cookies.jar) == 0


def test_cookies_cannot_be_given_to_it() -> None:
    client = UpstreamClient()
    client.cookies = {}  # clearing is harmless
    with pytest.raises(ValueError, match="keeps no cookies"):
        client.cookies = {"SUB": "x"}
    client.cookies.set("SUB", "x", domain="m.weibo.cn")  # the store is shared: nothing lands
    assert not UpstreamClient().cookies and not client.cookies


def test_the_shared_client_is_the_cookieless_one() -> None:
    assert isinstance(make_http_client(Settings(_env_file=None)), UpstreamClient)


async def _answer_with_request_line(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, who: bytes
) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    body = who + b" " + head.split(b"\r\n", 1)[0]
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    writer.close()


async def test_aiohttp_transport_honours_the_proxy_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = await asyncio.start_server(
        lambda r, w: _answer_with_request_line(r, w, b"proxy"), "127.0.0.1", 0
    )
    site = await asyncio.start_server(
        lambda r, w: _answer_with_request_line(r, w, b"site"), "127.0.0.1", 0
    )
    proxy_port = proxy.sockets[0].getsockname()[1]
    site_port = site.sockets[0].getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_port}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with proxy, site, httpx.AsyncClient(transport=AiohttpTransport(max_connections=2)) as c:
        via_proxy = await c.get("http://www.example.gov.cn/index.html")
        direct = await c.get(f"http://127.0.0.1:{site_port}/index.html")
    assert via_proxy.text == "proxy GET http://www.example.gov.cn/index.html HTTP/1.1"
    assert direct.text == "site GET /index.html HTTP/1.1"


async def _endless_body(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sent: list[int], gzipped: bool
) -> None:
    await reader.readuntil(b"\r\n\r\n")
    encoding = b"Content-Encoding: gzip\r\n" if gzipped else b""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" + encoding)
    writer.write(b"Transfer-Encoding: chunked\r\n\r\n")
    pieces = [b"<p>x</p>" * 8192]
    if gzipped:  # a gzip stream that never ends: each MiB of spaces compresses the same
        deflate = zlib.compressobj(9, wbits=31)
        spaces = [b"<html>" + b" " * (1 << 20), b" " * (1 << 20), b" " * (1 << 20)]
        pieces = [deflate.compress(raw) + deflate.flush(zlib.Z_SYNC_FLUSH) for raw in spaces]
        assert pieces[1] == pieces[2]
    try:
        for n in itertools.count():
            piece = pieces[min(n, len(pieces) - 1)]
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent.append(len(piece))
            await writer.drain()
    except (ConnectionError, OSError):
        pass  # the client stopped reading and closed the connection
    finally:
        writer.close()


@pytest.mark.parametrize("gzipped", [False, True], ids=["endless", "compression-bomb"])
async def test_an_endless_body_is_cut_at_the_cap_over_a_real_socket(gzipped: bool) -> None:
    sent: list[int] = []
    server = await asyncio.start_server(
        lambda r, w: _endless_body(r, w, sent, gzipped), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    transport = AiohttpTransport(max_connections=2)
    async with server, UpstreamClient(transport=transport) as client:
        fetched = await fetch(client, "GET", f"http://127.0.0.1:{port}/", source="page")
    assert 0 < len(fetched.text) <= MAX_BODY_BYTES
    assert sum(sent) < 4 * MAX_BODY_BYTES, "the transport kept reading"
