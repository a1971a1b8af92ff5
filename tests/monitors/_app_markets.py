"""Shared pieces of the app-market adapter tests (appstore, huawei, xiaomi, yyb).

The hostile set is what every adapter must survive without ever calling a listing gone: each
case is a way an upstream misbehaves, with the unknown-class outcome it must produce.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from monitors.base import Outcome

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

Handler = Callable[[httpx.Request], httpx.Response]

CAPTCHA_HTML = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>安全验证</title></head>"
    "<body><div id='captcha'>请完成下方验证后继续访问</div>"
    "<script src='https://ssl.captcha.qq.com/TCaptcha.js'></script></body></html>"
)


def fixture_bytes(platform: str, name: str) -> bytes:
    """The raw bytes of ``tests/fixtures/<platform>/<name>``."""
    return (FIXTURES / platform / name).read_bytes()


def mock_client(handler: Handler) -> httpx.AsyncClient:
    """A client whose every request is answered by ``handler`` (no network)."""
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


@dataclass(frozen=True)
class Hostile:
    """One misbehaving upstream answer and the outcome it must give."""

    name: str
    respond: Handler
    expected: Outcome


def _status(code: int, body: bytes = b"", **headers: str) -> Handler:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(code, content=body, headers=headers, request=request)

    return respond


def _raise(error: type[httpx.TransportError], message: str) -> Handler:
    def respond(request: httpx.Request) -> httpx.Response:
        raise error(message, request=request)

    return respond


HOSTILE: list[Hostile] = [
    Hostile(
        "captcha page",
        _status(200, CAPTCHA_HTML.encode(), **{"content-type": "text/html; charset=utf-8"}),
        Outcome.BLOCKED,
    ),
    Hostile("empty 200 body", _status(200), Outcome.BLOCKED),
    Hostile(
        "truncated json", _status(200, b'{"resultCount":1,"results":[{"trackId'), Outcome.ERROR
    ),
    Hostile("unexpected json", _status(200, b'{"data":{"items":[1,2,3]},"code":0}'), Outcome.ERROR),
    Hostile("403", _status(403, b"<html><body>Forbidden</body></html>"), Outcome.BLOCKED),
    Hostile("418", _status(418), Outcome.BLOCKED),
    Hostile("429 retry-after", _status(429, b"", **{"retry-after": "120"}), Outcome.RATE_LIMITED),
    Hostile("432", _status(432), Outcome.BLOCKED),
    Hostile("500", _status(500, b"Internal Server Error"), Outcome.ERROR),
    Hostile("502", _status(502, b"<html><body>502 Bad Gateway</body></html>"), Outcome.ERROR),
    Hostile("connection reset", _raise(httpx.ReadError, "[Errno 104] reset"), Outcome.ERROR),
    Hostile("timeout", _raise(httpx.ReadTimeout, "timed out"), Outcome.ERROR),
]

HOSTILE_IDS = [case.name for case in HOSTILE]
