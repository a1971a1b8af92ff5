"""Fixtures of the check routes' tests: a running simulator and the app pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from tests.support import running_simulator


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[str, object]]:
    with running_simulator(60, 5) as running:
        yield running


@pytest.fixture
async def sim_client(
    settings: Settings, simulator: tuple[str, object]
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    url, _ = simulator
    app = create_app(settings.model_copy(update={"simulator_url": url}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, app
