"""The upstream client keeps no cookies: adapters send the ones they need themselves."""

from __future__ import annotations

import httpx
import pytest

from app.checks.pipeline import make_http_client
from app.checks.transport import UpstreamClient
from app.config import Settings


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


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
def test_the_shared_client_is_the_cookieless_one(transport: str) -> None:
    settings = Settings(_env_file=None, http_transport=transport)  # type: ignore[arg-type]
    assert isinstance(make_http_client(settings), UpstreamClient)
