"""The simulator's HTTP server: every platform's fake endpoints in one Starlette app.

Tests, ``make demo`` and the benchmarks point adapters at it with
``MonitorConfig().with_base(url)``; each platform module in ``monitors/simulator/platforms/``
contributes its routes under its own path prefix. The population is scripted and deterministic
for a (size, seed) pair, and the clock is injectable so tests can move time.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from monitors import PLATFORMS
from monitors.base import utcnow
from monitors.simulator.hostile import HostileMiddleware, Hostility, control_routes
from monitors.simulator.population import PlatformSim, Population, SimAccount, build_population

__all__ = ["URL_HANDLE_PLATFORMS", "create_app", "load_platform_sims", "serve"]

Clock = Callable[[], datetime]

#: Platforms whose handle is a URL: the population stores a path, the server adds its own root.
URL_HANDLE_PLATFORMS = frozenset({"rss", "website"})


def load_platform_sims() -> list[PlatformSim]:
    """Import the simulator module of every supported platform that has one.

    Platforms are discovered by name rather than from a registry so that a platform module can
    be added without touching a shared file; a platform without a module is simply not served.
    """
    sims: list[PlatformSim] = []
    for platform in PLATFORMS:
        module_name = f"monitors.simulator.platforms.{platform}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise  # the module exists but one of its own imports is broken
            continue
        sims.append(cast(PlatformSim, module))
    return sims


class LatencyMiddleware:
    """Delay every HTTP request by a fixed time, to mimic a distant upstream.

    Pure ASGI (no BaseHTTPMiddleware) because it runs on every request of a benchmark.
    """

    def __init__(self, app: ASGIApp, latency_ms: float) -> None:
        self.app = app
        self.delay_s = latency_ms / 1000

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(self.delay_s)
        await self.app(scope, receive, send)


def public_handle(account: SimAccount, root: str) -> str:
    """The handle an adapter is given: URL-handled platforms get the server's root prepended."""
    if account.platform in URL_HANDLE_PLATFORMS:
        return root.rstrip("/") + account.handle
    return account.handle


def _describe(account: SimAccount, root: str, now: datetime) -> dict[str, Any]:
    last_post_at = account.last_post_at(now)
    return {
        "platform": account.platform,
        "handle": public_handle(account, root),
        "scenario": str(account.scenario),
        "expected_outcome": str(account.expected_outcome()),
        "display_name": account.display_name,
        "last_post_at": last_post_at.isoformat() if last_post_at else None,
    }


def create_app(
    size: int,
    seed: int,
    latency_ms: float = 0,
    public_url: str | None = None,
    clock: Clock = utcnow,
    platforms: Sequence[PlatformSim] | None = None,
) -> Starlette:
    """Build the simulator app for a population of ``size`` accounts drawn with ``seed``.

    Platforms can be turned hostile at run time through ``/_control/hostile``
    (monitors/simulator/hostile.py); ``app.state.hostility`` is the same switch for tests.

    ``public_url`` is the root adapters reach the server at (used to turn rss/website paths into
    full handles); by default it is taken from each request. ``platforms`` defaults to every
    platform module found; tests may pass their own.
    """
    sims = list(platforms) if platforms is not None else load_platform_sims()
    population = build_population(size, seed, sims) if sims else Population()
    hostility = Hostility(clock)
    population.denies = hostility.absent

    async def list_population(request: Request) -> JSONResponse:
        root = public_url or str(request.base_url)
        wanted = request.query_params.get("platform")
        now = clock()
        body = [
            _describe(account, root, now)
            for account in population.accounts
            if wanted is None or account.platform == wanted
        ]
        return JSONResponse(body)

    async def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/population", list_population, methods=["GET"]),
        *control_routes(hostility),
    ]
    for sim in sims:
        routes.extend(sim.routes(population, clock))

    middleware = [Middleware(LatencyMiddleware, latency_ms=latency_ms)] if latency_ms > 0 else []
    middleware.append(Middleware(HostileMiddleware, hostility=hostility))
    app = Starlette(routes=routes, middleware=middleware)
    app.state.population = population
    app.state.hostility = hostility
    app.state.platforms = sorted(sim.PLATFORM for sim in sims)
    return app


def serve(
    port: int,
    latency_ms: float,
    population: int,
    seed: int,
    host: str = "127.0.0.1",
    public_url: str | None = None,
) -> None:
    """Run the simulator until interrupted, quietly enough to sustain benchmark load.

    Without ``public_url``, rss and website handles in ``/population`` use the host the client
    called, which is right behind docker-compose service names too.
    """
    app = create_app(population, seed, latency_ms=latency_ms, public_url=public_url)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
