"""What the app-market simulators (appstore, huawei, xiaomi, yyb) have in common.

App markets have no captcha pages of their own that we know of: a refused request is an HTTP
403 and a throttled one an HTTP 429 with Retry-After, which is how the adapters see them too.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from starlette.responses import HTMLResponse, PlainTextResponse, Response

from monitors.simulator.population import Scenario, SimAccount

__all__ = ["RETRY_AFTER_S", "local_release_time", "refusal", "release_time", "version_name"]

_SHANGHAI = ZoneInfo("Asia/Shanghai")

#: Seconds the simulated markets ask a throttled client to wait.
RETRY_AFTER_S = 60

_FORBIDDEN_PAGE = (
    "<html><head><title>403 Forbidden</title></head>"
    "<body><h1>Forbidden</h1><p>访问被拒绝</p></body></html>"
)


def refusal(account: SimAccount, captcha: Response | None = None) -> Response | None:
    """The answer that replaces the listing for refused, throttled or flapping requests.

    Counts the request (so flapping accounts fail on every second one) and returns None when
    the market should answer normally. ``captcha`` is the market's own refusal, where it has
    one; otherwise a refused request is a 403 page.
    """
    fails = account.next_request_fails()
    if account.scenario is Scenario.CAPTCHA:
        return captcha or HTMLResponse(_FORBIDDEN_PAGE, status_code=403)
    if account.scenario is Scenario.RATE_LIMITED:
        return PlainTextResponse(
            "Too Many Requests", status_code=429, headers={"Retry-After": str(RETRY_AFTER_S)}
        )
    if fails:
        return PlainTextResponse("Service Temporarily Unavailable", status_code=503)
    return None


def version_name(account: SimAccount) -> str:
    """A stable version string for the account: one release per scripted "post"."""
    count = account.post_count
    return f"{count // 100 + 1}.{count // 10 % 10}.{count % 10}"


def release_time(account: SimAccount, now: datetime) -> datetime:
    """When the current version was released (the account's newest "post")."""
    released = account.last_post_at(now)
    return released if released is not None else now


def local_release_time(account: SimAccount, now: datetime) -> datetime:
    """The release time on the Chinese markets' wall clock, which is how they print dates."""
    return release_time(account, now).astimezone(_SHANGHAI)
