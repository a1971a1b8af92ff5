"""Hostile upstreams on demand: turn platforms hostile at run time, and back.

A soak or a test tells the running simulator that some platforms now answer every request with
a captcha page, an HTTP 432, an empty 200 body, a hang past the client's timeout or a 429 with
Retry-After (refusals: a correct adapter answers unknown, never gone), or that they deny every
account exists (``absent``: a block disguised as absence, the case canaries are for). Each
spell lasts until it is lifted or its ``until`` passes on the simulator's clock.

    POST   /_control/hostile  {"platforms": ["weibo"], "mode": "captcha", "for_s": 120}
    GET    /_control/hostile  the spells in force
    DELETE /_control/hostile?platforms=weibo,douyin   lift them (all without ``platforms``)
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from monitors import PLATFORMS
from monitors.base import Outcome

__all__ = [
    "EXPECTED_OUTCOME",
    "HostileMiddleware",
    "Hostility",
    "Mode",
    "control_routes",
    "platform_of_path",
]

Clock = Callable[[], datetime]


class Mode(enum.StrEnum):
    """How a hostile platform answers."""

    CAPTCHA = "captcha"  # 200 with a captcha interstitial
    HTTP_432 = "http_432"  # Weibo-style risk-control refusal status
    EMPTY = "empty"  # 200 with an empty body
    TIMEOUT = "timeout"  # no answer until hang_s has passed (then 504)
    RATE_LIMITED = "rate_limited"  # 429 with Retry-After
    ABSENT = "absent"  # every handle gets the platform's own "no such account" answer


#: What a correct adapter reports for an account of a platform in each refusal mode.
#: ``absent`` is missing on purpose: it answers whatever the platform says of an unknown handle.
EXPECTED_OUTCOME: dict[Mode, Outcome] = {
    Mode.CAPTCHA: Outcome.BLOCKED,
    Mode.HTTP_432: Outcome.BLOCKED,
    Mode.EMPTY: Outcome.BLOCKED,
    Mode.TIMEOUT: Outcome.ERROR,
    Mode.RATE_LIMITED: Outcome.RATE_LIMITED,
}

#: Path prefixes that belong to a platform other than the one they are named after.
_PREFIX_PLATFORM = {"weibo-passport": "weibo", "weibo-pc": "weibo", "rsshub": "wechat"}

CAPTCHA_PAGE = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>安全验证</title>'
    '<script src="https://turing.captcha.qcloud.com/TCaptcha.js"></script></head>'
    '<body><div id="captcha">请完成下列验证后继续访问: 拖动滑块完成拼图</div></body></html>'
)


def platform_of_path(path: str) -> str | None:
    """The platform a simulator path belongs to (``/weibo-pc/...`` is Weibo's), or None."""
    prefix = path.split("/", 2)[1] if path.startswith("/") else ""
    platform = _PREFIX_PLATFORM.get(prefix, prefix)
    return platform if platform in PLATFORMS else None


@dataclass(frozen=True, slots=True)
class Spell:
    """One platform's hostility: its mode, when it ends (None: when lifted) and its knobs."""

    mode: Mode
    until: datetime | None
    hang_s: float
    retry_after_s: int

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "until": self.until.isoformat() if self.until else None,
            "hang_s": self.hang_s,
            "retry_after_s": self.retry_after_s,
        }


class Hostility:
    """The spells in force, per platform, read on every request."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._spells: dict[str, Spell] = {}

    def turn(self, platforms: Iterable[str], spell: Spell) -> None:
        """Make ``platforms`` hostile in ``spell``'s way, replacing any spell they were under."""
        for platform in platforms:
            self._spells[platform] = spell

    def lift(self, platforms: Iterable[str] | None = None) -> None:
        """End the spells on ``platforms`` (every platform's when None)."""
        for platform in list(self._spells) if platforms is None else platforms:
            self._spells.pop(platform, None)

    def spell(self, platform: str) -> Spell | None:
        """The spell ``platform`` is under now, forgetting one whose time is up."""
        spell = self._spells.get(platform)
        if spell is not None and spell.until is not None and self.clock() >= spell.until:
            del self._spells[platform]
            return None
        return spell

    def absent(self, platform: str) -> bool:
        """Whether ``platform`` now denies that any account exists."""
        spell = self.spell(platform)
        return spell is not None and spell.mode is Mode.ABSENT

    def state(self) -> dict[str, dict[str, Any]]:
        """Every spell in force, for GET /_control/hostile."""
        return {p: s.describe() for p in sorted(self._spells) if (s := self.spell(p))}


def _refusal(spell: Spell) -> Response | None:
    if spell.mode is Mode.CAPTCHA:
        return HTMLResponse(CAPTCHA_PAGE)
    if spell.mode is Mode.HTTP_432:
        return PlainTextResponse("", status_code=432)
    if spell.mode is Mode.EMPTY:
        return Response(b"", media_type="text/html")
    if spell.mode is Mode.RATE_LIMITED:
        headers = {"Retry-After": str(spell.retry_after_s)}
        return PlainTextResponse("Too Many Requests", status_code=429, headers=headers)
    return None


class HostileMiddleware:
    """Answer a hostile platform's requests before they reach its routes (pure ASGI: it sits
    in front of every request of a soak)."""

    def __init__(self, app: ASGIApp, hostility: Hostility) -> None:
        self.app = app
        self.hostility = hostility

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        platform = platform_of_path(scope["path"]) if scope["type"] == "http" else None
        spell = self.hostility.spell(platform) if platform else None
        if spell is not None and spell.mode is Mode.TIMEOUT:
            await asyncio.sleep(spell.hang_s)
            await PlainTextResponse("Gateway Timeout", status_code=504)(scope, receive, send)
            return
        refusal = _refusal(spell) if spell is not None else None
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _problem(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


def _spell_from(body: Any, now: datetime) -> Spell | str:
    """The spell a POST body asks for, or why it cannot be had."""
    try:
        mode = Mode(body.get("mode"))
    except ValueError:
        return f"mode must be one of {', '.join(m.value for m in Mode)}"
    until: datetime | None = None
    try:
        if body.get("until") is not None:
            until = datetime.fromisoformat(str(body["until"]))
            if until.tzinfo is None:
                return "until needs a time zone"
        elif body.get("for_s") is not None:
            until = now + timedelta(seconds=float(body["for_s"]))
        hang_s = float(body.get("hang_s", 60.0))
        retry_after_s = int(body.get("retry_after_s", 60))
    except (TypeError, ValueError) as exc:
        return f"bad until, for_s, hang_s or retry_after_s: {exc}"
    if hang_s < 0 or retry_after_s < 0:
        return "hang_s and retry_after_s cannot be negative"
    return Spell(mode, until, hang_s, retry_after_s)


def _platforms(names: Iterable[str]) -> list[str] | str:
    chosen = [n.strip() for n in names if n.strip()]
    unknown = sorted(set(chosen) - set(PLATFORMS))
    if unknown or not chosen:
        return f"platforms must be some of {', '.join(PLATFORMS)}; got {unknown or 'none'}"
    return chosen


def control_routes(hostility: Hostility) -> list[BaseRoute]:
    """GET, POST and DELETE ``/_control/hostile``."""

    async def show(request: Request) -> JSONResponse:
        return JSONResponse(hostility.state())

    async def turn(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return _problem("the body must be JSON")
        if not isinstance(body, dict) or not isinstance(body.get("platforms"), list):
            return _problem('the body must be an object with a "platforms" list')
        platforms = _platforms(str(p) for p in body["platforms"])
        spell = _spell_from(body, hostility.clock())
        if isinstance(platforms, str) or isinstance(spell, str):
            return _problem(platforms if isinstance(platforms, str) else str(spell))
        hostility.turn(platforms, spell)
        return JSONResponse(hostility.state())

    async def lift(request: Request) -> JSONResponse:
        named = request.query_params.get("platforms")
        platforms = None if named is None else _platforms(named.split(","))
        if isinstance(platforms, str):
            return _problem(platforms)
        hostility.lift(platforms)
        return JSONResponse(hostility.state())

    return [
        Route("/_control/hostile", show, methods=["GET"]),
        Route("/_control/hostile", turn, methods=["POST"]),
        Route("/_control/hostile", lift, methods=["DELETE"]),
    ]
