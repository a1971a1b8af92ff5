"""The service keeps its start-up objects out of garbage collections while it runs."""

from __future__ import annotations

import gc

from app.config import Settings
from app.main import create_app


async def test_lifespan_freezes_startup_objects_and_returns_them_at_shutdown(
    settings: Settings,
) -> None:
    assert gc.get_freeze_count() == 0
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # Modules, routes, the engine: far more than a test's own objects.
        assert gc.get_freeze_count() > 50_000
        gc.collect()  # a full collection leaves them frozen
        assert gc.get_freeze_count() > 50_000
    assert gc.get_freeze_count() == 0
