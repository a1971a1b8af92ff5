"""Webhook tests deliver to a local receiver, so private addresses are allowed here; the
SSRF tests build their own settings without it."""

from __future__ import annotations

import pytest

from app.config import Settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        scheduler_enabled=False,
        webhook_allow_private=True,
        webhook_timeout_s=5,
        webhook_lease_s=30,
    )
