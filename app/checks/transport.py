"""The transport under the shared ``httpx.AsyncClient`` (adapters keep httpx's API).

``AiohttpTransport`` sends httpx requests with aiohttp, whose C HTTP parser and connector cost
about half of httpcore's per request (~1.4x the end-to-end checks a second on the 2-core
bench, bench/README.md), and whose resolver can be replaced: the egress guard (app/egress.py)
checks the addresses a connection is about to use there, which httpx's own transport offers
no hook for. Cookies, redirects and timeouts stay in the ``httpx.AsyncClient`` above, so each
redirect hop is a request of its own through the guard.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import urllib.request
from collections.abc import AsyncIterator

import aiohttp
import httpx

from app.egress import EgressGuard, GuardedResolver, Refused
from monitors.http import MAX_BODY_BYTES, EgressRefused

__all__ = ["AiohttpTransport", "UpstreamClient"]


class _DiscardingJar(http.cookiejar.CookieJar):
    """A jar that stores nothing, whoever adds to it."""

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        """Drop it."""


class _NoCookies(httpx.Cookies):
    """A cookie store that never stores: Set-Cookie answers and ``set`` calls are dropped
    (one instance serves every UpstreamClient, so nothing may land in it)."""

    def __init__(self) -> None:
        super().__init__(_DiscardingJar())

    def extract_cookies(self, response: httpx.Response) -> None:
        """Keep nothing, without parsing the answer's headers (see UpstreamClient)."""


class UpstreamClient(httpx.AsyncClient):
    """The client for platforms and websites: httpx's, without a cookie jar.

    Adapters send the cookies they need themselves (the Weibo visitor cookie, configured
    Douyin and WeChat cookies). A shared jar would keep every site's Set-Cookie for the
    process's life, send site A's WAF or session cookie back on A's next check, and make
    every request walk the jar (http.cookiejar looks at every stored domain): ~9% of a
    check's CPU with only the simulator's two cookies in it.
    """

    _no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        """Always empty."""
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        if cookies:
            raise ValueError("the upstream client keeps no cookies; send a Cookie header")


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    """The raw body, read no further than MAX_BODY_BYTES (as fetch reads it decompressed):
    aiohttp closes a connection whose body was left unread rather than reuse it."""
    content = bytearray()
    async for chunk in response.content.iter_any():
        content += chunk
        if len(content) >= MAX_BODY_BYTES:
            break
    return bytes(content)


class _Slices(httpx.AsyncByteStream):
    """A body read whole, handed on in slices: httpx inflates a compressed body one chunk
    at a time, so a compression bomb grows by at most ~1,000 times a slice before fetch
    stops reading (one chunk of it all would be inflated in one go)."""

    SIZE = 16 * 1024

    def __init__(self, content: bytes) -> None:
        self._content = content

    async def __aiter__(self) -> AsyncIterator[bytes]:
        view = memoryview(self._content)
        for start in range(0, len(view), self.SIZE):
            yield bytes(view[start : start + self.SIZE])


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests with aiohttp. Redirects, cookies, decompression and timeouts stay
    with the ``httpx.AsyncClient`` above; aiohttp's errors become httpx's, so callers catch
    the same exceptions. The body is read whole (adapters read every body anyway), up to
    MAX_BODY_BYTES. With a ``guard``, a request it refuses raises EgressRefused before any
    connection (the URL) or at connect time (the addresses its host resolves to)."""

    def __init__(self, *, max_connections: int, guard: EgressGuard | None = None) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be positive")
        self._max_connections = max_connections
        self._guard = guard
        self._session: aiohttp.ClientSession | None = None
        # HTTP(S)_PROXY and NO_PROXY, as httpx's own transport honours them: read once here,
        # since aiohttp's trust_env reads the environment (and ~/.netrc) on every request,
        # which cost ~30% of the checks a second.
        self._proxies = urllib.request.getproxies_environment()

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use: a ClientSession belongs to the running event loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._max_connections,
                    ttl_dns_cache=300,
                    resolver=GuardedResolver(self._guard) if self._guard else None,
                ),
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return the whole response, undecoded."""
        # aiohttp never resolves a host written as an address, so the guard judges it here.
        refusal = self._guard.url_refusal(str(request.url)) if self._guard else None
        if refusal is not None:
            raise EgressRefused(refusal, request=request)
        limits = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=limits.get("connect"),
            sock_read=limits.get("read"),
            sock_connect=limits.get("connect"),
        )
        body = await request.aread()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        proxy = self._proxy_for(request.url)
        try:
            async with self._client().request(
                request.method,
                str(request.url),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=timeout,
                compress=None,
                proxy=proxy,
            ) as response:
                content = await _read_capped(response)
                status = response.status
                raw_headers = list(response.raw_headers)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc) or "read timeout", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, Refused):
                raise EgressRefused(str(exc.os_error.strerror), request=request) from exc
            raise httpx.ConnectError(str(exc), request=request) from exc
        except aiohttp.InvalidURL as exc:
            raise httpx.InvalidURL(str(exc)) from exc
        except aiohttp.ClientError as exc:
            detail = str(exc) or type(exc).__name__
            raise httpx.RemoteProtocolError(detail, request=request) from exc
        return httpx.Response(
            status,
            headers=raw_headers,
            stream=_Slices(content),
            extensions={"http_version": b"HTTP/1.1"},
        )

    def _proxy_for(self, url: httpx.URL) -> str | None:
        proxy = self._proxies.get(url.scheme)
        # proxy_bypass_environment is NO_PROXY matching as urllib does it (not in typeshed).
        bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
        if proxy is None or bypass(url.host, self._proxies):
            return None
        return proxy

    async def aclose(self) -> None:
        """Close aiohttp's session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None
            await asyncio.sleep(0)  # let aiohttp finish closing its transports
