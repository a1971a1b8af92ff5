"""Simulated iTunes lookup API (``/appstore/lookup``) in the shape of itunes.apple.com.

A listed app answers ``resultCount: 1`` with the current version's release date; an unknown
or not-listed id answers ``resultCount: 0``. The App Store cannot express empty, private,
deleted or banned listings, so those scenarios are not scripted here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from monitors.simulator.platforms._apps import refusal, release_time, version_name
from monitors.simulator.population import Population, Scenario, SimAccount

__all__ = ["PLATFORM", "SCENARIOS", "make_handle", "routes"]

PLATFORM = "appstore"
SCENARIOS: frozenset[Scenario] = frozenset(
    {
        Scenario.ALIVE,
        Scenario.STALE,
        Scenario.SILENT,
        Scenario.OUTDATED,
        Scenario.NOT_FOUND,
        Scenario.CAPTCHA,
        Scenario.RATE_LIMITED,
        Scenario.FLAPPING,
    }
)

# Apple serves the lookup API as JavaScript with blank lines around the JSON.
_MEDIA_TYPE = "text/javascript; charset=utf-8"
_NOT_LISTED = '\n\n\n{\n "resultCount":0,\n "results": []\n}\n\n\n'


def make_handle(index: int) -> str:
    """A numeric track id, unique per index."""
    return str(1_600_000_000 + index)


def _record(account: SimAccount, now: datetime) -> dict[str, Any]:
    released = release_time(account, now).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "wrapperType": "software",
        "kind": "software",
        "trackId": int(account.handle),
        "trackName": account.display_name,
        "trackCensoredName": account.display_name,
        "bundleId": f"cn.gov.sim.app{account.handle}",
        "trackViewUrl": f"https://apps.apple.com/cn/app/id{account.handle}?uo=4",
        "artistName": "模拟政务服务中心",
        "sellerName": "模拟政务服务中心",
        "version": version_name(account),
        "currentVersionReleaseDate": released,
        "releaseDate": "2019-05-20T07:00:00Z",
        "releaseNotes": "修复已知问题",
        "userRatingCount": account.followers,
        "averageUserRating": 4.5,
        "price": 0.0,
        "formattedPrice": "免费",
        "currency": "CNY",
        "primaryGenreName": "Utilities",
        "fileSizeBytes": "52428800",
    }


def routes(population: Population, clock: Callable[[], datetime]) -> list[BaseRoute]:
    """The lookup endpoint under ``/appstore``."""

    async def lookup(request: Request) -> Response:
        account = population.find(PLATFORM, request.query_params.get("id", ""))
        if account is None:
            return Response(_NOT_LISTED, media_type=_MEDIA_TYPE)
        refused = refusal(account)
        if refused is not None:
            return refused
        if account.scenario is Scenario.NOT_FOUND:
            return Response(_NOT_LISTED, media_type=_MEDIA_TYPE)
        body = {"resultCount": 1, "results": [_record(account, clock())]}
        return Response(
            "\n\n\n" + json.dumps(body, ensure_ascii=False) + "\n\n\n", media_type=_MEDIA_TYPE
        )

    return [Route("/appstore/lookup", lookup, methods=["GET"])]
