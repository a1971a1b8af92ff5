"""Apple App Store (China storefront) through the iTunes lookup API.

``GET {appstore_base_url}/lookup?id=<trackId>&country=<cn>&entity=software`` answers
``resultCount: 1`` with the app's record for a listed app and ``resultCount: 0`` for an id the
storefront does not list (removed, never existed, or not sold in that country): the store's own
positive "not listed" answer, hence not_found with marker ``resultCount:0``. Transient empty
results have been reported (platforms.md §4.1); the flag rules confirm a gone outcome on a
second observation an hour later, so one empty answer alone never closes an account.

The App Store has no empty, private, deleted or banned states: a listing is there or not.
"""

from __future__ import annotations

from typing import Any

import httpx

from monitors._markets import gone, listed, shape_error
from monitors.base import Monitor, Observation
from monitors.config import MonitorConfig
from monitors.handles import normalize_handle
from monitors.http import Fetched, fetch, guarded_observe, parse_json_object
from monitors.parsing import parse_datetime

__all__ = ["AppStoreMonitor", "create"]

PLATFORM = "appstore"
NOT_LISTED_MARKER = "resultCount:0"


class AppStoreMonitor:
    """Observes one App Store listing per call through the anonymous lookup API."""

    platform = PLATFORM

    def __init__(self, config: MonitorConfig) -> None:
        self._lookup_url = f"{config.appstore_base_url}/lookup"
        self._country = config.appstore_country
        self._headers = {"User-Agent": config.desktop_user_agent, "Accept": "application/json"}

    def validate_handle(self, handle: str) -> str:
        """The numeric track id ("id444934666" and "444934666" both give "444934666")."""
        return normalize_handle(PLATFORM, handle)

    async def observe(self, handle: str, client: httpx.AsyncClient) -> Observation:
        """Look the app up in the configured storefront and classify the answer."""
        track_id = self.validate_handle(handle)
        return await guarded_observe(PLATFORM, track_id, lambda: self._observe(track_id, client))

    async def _observe(self, track_id: str, client: httpx.AsyncClient) -> Observation:
        fetched = await fetch(
            client,
            "GET",
            self._lookup_url,
            source="api",
            headers=self._headers,
            params={"id": track_id, "country": self._country, "entity": "software"},
        )
        return classify(track_id, fetched)


def classify(track_id: str, fetched: Fetched) -> Observation:
    """Turn a lookup answer into an Observation (ok, not_found, or a Failure for error)."""
    body = parse_json_object(fetched)
    count = body.get("resultCount")
    results = body.get("results")
    if type(count) is not int or not isinstance(results, list):
        raise shape_error(fetched, "no resultCount/results in the lookup answer")
    if count == 0 and not results:
        return gone(PLATFORM, track_id, fetched, NOT_LISTED_MARKER)
    record = _record_for(track_id, results)
    if record is None:
        raise shape_error(fetched, f"no software record for track id {track_id}")
    name = record.get("trackName")
    version = record.get("version")
    released_at = parse_datetime(record.get("currentVersionReleaseDate")) or parse_datetime(
        record.get("releaseDate")
    )
    url = record.get("trackViewUrl")
    return listed(
        PLATFORM,
        track_id,
        fetched,
        name=name if isinstance(name, str) else None,
        version=str(version) if version is not None else None,
        released_at=released_at,
        url=url if isinstance(url, str) else None,
    )


def _record_for(track_id: str, results: list[Any]) -> dict[str, Any] | None:
    """The result describing this app; a record for another id is not evidence about ours."""
    for record in results:
        if isinstance(record, dict) and str(record.get("trackId")) == track_id:
            return record
    return None


def create(config: MonitorConfig) -> Monitor:
    """The App Store adapter for ``config``'s lookup host and storefront."""
    return AppStoreMonitor(config)
