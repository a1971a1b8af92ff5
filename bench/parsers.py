"""Parser throughput: observations per second of each adapter on its own fixtures, CPU only.

Each adapter's ``observe`` runs against ``httpx.MockTransport`` serving the files in
``tests/fixtures/<platform>/`` (no network, no server), so the figure is what one core spends
building requests, running the shared request layer and classifying the answer. A "floor"
row measures a bare MockTransport GET, the part of every figure that is httpx itself.

    .venv/bin/python bench/parsers.py [--seconds 0.5] [--platform weibo ...]
"""

from __future__ import annotations

import argparse
import asyncio
import platform as host_platform
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

import monitors
from monitors.base import Observation
from monitors.config import MonitorConfig

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"

CONTENT_TYPES = {
    ".json": "application/json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".jsonp": "application/javascript; charset=utf-8",
    ".txt": "application/json; charset=utf-8",
}


@dataclass(frozen=True)
class Route:
    """Answer requests whose URL contains ``match`` with a fixture file and status."""

    match: str
    fixture: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    """One fixture set for one platform: the routes an observation's requests hit."""

    name: str
    expect: str
    routes: tuple[Route, ...]
    config: MonitorConfig | None = None


def case(name: str, expect: str, *routes: Route | str, config: MonitorConfig | None = None) -> Case:
    """A case expected to classify as ``expect``; a bare string is served for every request."""
    routes_ = tuple(Route("", r) if isinstance(r, str) else r for r in routes)
    return Case(name, expect, routes_, config)


def douyin(name: str, expect: str, *, profile: str, posts: str = "posts_ok.json") -> Case:
    return case(
        name,
        expect,
        Route("/user/profile/other", profile),
        Route("/aweme/post", posts),
        Route("/user/", "user_page.html"),
    )


# Placeholder credentials: the mock transport never checks them.
WECHAT_MP = MonitorConfig(wechat_cookie="slave_sid=abc", wechat_token="1234567")  # noqa: S106
WECHAT_RSSHUB = MonitorConfig(rsshub_url="https://rsshub.example.org")


def weibo(
    name: str, expect: str, *, profile: str, posts: str = "posts_ok.json", pc: str = ""
) -> Case:
    visitor = (Route("genvisitor", "genvisitor.jsonp"), Route("a=incarnate", "incarnate.jsonp"))
    pc_routes = (Route("/ajax/profile/info", pc, 400 if "problem" in pc else 200),) if pc else ()
    return Case(
        name,
        expect,
        (
            *visitor,
            *pc_routes,
            Route("containerid=", posts),
            Route("getIndex", profile),
        ),
    )


#: platform -> (a handle matching its fixtures, the cases to run)
CASES: dict[str, tuple[str, list[Case]]] = {
    "appstore": (
        "1454063337",
        [
            case("ok", "ok", "ok.json"),
            case("not_found", "not_found", "not_found.json"),
            case("forbidden_403", "blocked", Route("", "forbidden_403.html", 403)),
        ],
    ),
    "huawei": (
        "C100000001",
        [
            case("ok", "ok", Route("getInterfaceCode", "interface_code.txt"), Route("", "ok.json")),
            case(
                "not_found",
                "not_found",
                Route("getInterfaceCode", "interface_code.txt"),
                Route("", "not_found.json"),
            ),
        ],
    ),
    "xiaomi": (
        "cn.gov.zwfw.app",
        [case("ok", "ok", "ok.html"), case("not_found", "not_found", "not_found.html")],
    ),
    "yyb": (
        "cn.gov.zwfw.app",
        [case("ok", "ok", "ok.json"), case("not_found", "not_found", "not_found.json")],
    ),
    "website": (
        "https://www.example.gov.cn/",
        [
            case("home_ok", "ok", "home_ok.html"),
            case(
                "home_gbk", "ok", Route("", "home_gbk.html", headers={"Content-Type": "text/html"})
            ),
            case("closed", "deleted", "closed.html"),
            case("waf_blocked", "blocked", "waf_blocked.html"),
        ],
    ),
    "wechat": (
        "MzA3MDM3NjE5NQ==",
        [
            case(
                "mp_appmsgpublish_ok",
                "ok",
                Route("/cgi-bin/appmsgpublish", "mp_appmsgpublish_ok.json"),
                config=WECHAT_MP,
            ),
            case("rsshub_feed_ok", "ok", "rsshub_feed_ok.json", config=WECHAT_RSSHUB),
            case("profile_banned", "banned", "profile_banned.html"),
            case("profile_deleted", "deleted", "profile_deleted.html"),
            case("captcha", "blocked", "captcha.html"),
        ],
    ),
    "douyin": (
        "MS4wLjABAAAAdemoGovPoliceAccount0000000000000000001",
        [
            douyin("profile_ok+posts_ok", "ok", profile="profile_ok.json"),
            douyin("profile_deleted", "deleted", profile="profile_deleted.json"),
            douyin("profile_private", "private", profile="profile_private.json"),
            case(
                "empty_200 -> user_page",
                "ok",
                Route("/aweme/v1/", ""),
                Route("/user/", "user_page.html"),
            ),
        ],
    ),
    "rss": (
        "http://www.sz.gov.cn/cn/xxgk/zfxxgj/zwdt/rss.xml",
        [
            case("rss2_ok", "ok", "rss2_ok.xml"),
            case("atom_ok", "ok", "atom_ok.xml"),
            case("rdf_ok", "ok", "rdf_ok.xml"),
            case("rsshub_json_ok", "ok", "rsshub_ok.json"),
            case("nginx_404", "not_found", Route("", "nginx_404.html", 404)),
            case("billion_laughs", "error", "billion_laughs.xml"),
        ],
    ),
    "weibo": (
        "7000000001",
        [
            weibo("ok", "ok", profile="profile_ok.json"),
            weibo("ok_wan_relative", "ok", profile="profile_wan.json", posts="posts_relative.json"),
            weibo(
                "no_content_pc_sorry",
                "banned",
                profile="no_content.json",
                pc="pc_sorry_complaint.json",
            ),
            weibo("captcha_json", "blocked", profile="captcha_json.json"),
        ],
    ),
}


def _handler(platform: str, routes: Sequence[Route]) -> Callable[[httpx.Request], httpx.Response]:
    loaded = [
        (route, (FIXTURES / platform / route.fixture).read_bytes() if route.fixture else b"")
        for route in routes
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        for route, body in loaded:
            if route.match in url:
                kind = CONTENT_TYPES.get(Path(route.fixture).suffix, "application/json")
                headers = {"Content-Type": kind, **route.headers}
                return httpx.Response(route.status, content=body, headers=headers)
        return httpx.Response(404, content=b"no route in bench/parsers.py")

    return handler


async def _rate(
    run_once: Callable[[], Awaitable[object]], seconds: float, minimum: int = 50
) -> tuple[float, int, object]:
    """Observations per second of ``run_once`` over at least ``seconds`` and ``minimum`` runs."""
    for _ in range(10):  # warm-up: caches (visitor cookie, interface code), imports
        last = await run_once()
    count = 0
    started = time.perf_counter()
    while True:
        last = await run_once()
        count += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds and count >= minimum:
            return count / elapsed, count, last


async def bench_case(platform: str, handle: str, bench: Case, seconds: float) -> tuple[float, str]:
    """obs/s for one fixture set, and the outcome it classified to."""
    monitor = monitors.get(platform, bench.config)
    transport = httpx.MockTransport(_handler(platform, bench.routes))
    async with httpx.AsyncClient(transport=transport) as client:

        async def run_once() -> Observation:
            return await monitor.observe(handle, client)

        rate, _, last = await _rate(run_once, seconds)
    assert isinstance(last, Observation)
    return rate, last.outcome.value


async def bench_floor(seconds: float) -> float:
    """obs/s of a bare GET through MockTransport: httpx's own share of every figure."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"{}"))
    async with httpx.AsyncClient(transport=transport) as client:

        async def run_once() -> httpx.Response:
            return await client.get("https://m.weibo.cn/api/container/getIndex?type=uid")

        rate, _, _ = await _rate(run_once, seconds)
    return rate


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, Python {host_platform.python_version()}, httpx {httpx.__version__}"


def _row(platform: str, name: str, outcome: str, rate: str) -> None:
    print(f"{platform:<10} {name:<28} {outcome:<14} {rate:>9}")


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=0.5, help="time per fixture set")
    parser.add_argument("--platform", action="append", help="only these platforms")
    args = parser.parse_args(argv)
    wanted = args.platform or list(monitors.PLATFORMS)

    print(f"# parser throughput, one core ({_machine()})")
    _row("platform", "fixture set", "outcome", "obs/s")
    _row("(floor)", "bare MockTransport GET", "-", f"{await bench_floor(args.seconds):.0f}")
    for platform in wanted:
        if platform not in CASES:
            print(f"{platform:<10} (no fixture sets in bench/parsers.py yet)")
            continue
        if not (Path(monitors.__file__).parent / f"{platform}.py").exists():
            print(f"{platform:<10} (adapter monitors/{platform}.py not written yet)")
            continue
        handle, cases = CASES[platform]
        for bench in cases:
            rate, outcome = await bench_case(platform, handle, bench, args.seconds)
            shown = outcome if outcome == bench.expect else f"{outcome}!={bench.expect}"
            _row(platform, bench.name, shown, f"{rate:.0f}")


if __name__ == "__main__":
    asyncio.run(main())
