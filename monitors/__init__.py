"""Platform adapters: observe an account over HTTP and classify what the platform says."""

from __future__ import annotations

import importlib

from monitors.base import Evidence, Monitor, Observation, Outcome, OutcomeClass, Post
from monitors.config import MonitorConfig
from monitors.handles import normalize_handle

__all__ = [
    "PLATFORMS",
    "Evidence",
    "Monitor",
    "MonitorConfig",
    "Observation",
    "Outcome",
    "OutcomeClass",
    "Post",
    "get",
    "normalize_handle",
]

PLATFORMS: tuple[str, ...] = (
    "weibo",
    "wechat",
    "douyin",
    "appstore",
    "huawei",
    "xiaomi",
    "yyb",
    "rss",
    "website",
)


def get(platform: str, config: MonitorConfig | None = None) -> Monitor:
    """Return the adapter for ``platform``, configured for the real upstream hosts by default.

    Each adapter lives in ``monitors/<platform>.py`` and exposes ``create(config) -> Monitor``.
    """
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; supported: {', '.join(PLATFORMS)}")
    module = importlib.import_module(f"monitors.{platform}")
    monitor: Monitor = module.create(config or MonitorConfig())
    return monitor
