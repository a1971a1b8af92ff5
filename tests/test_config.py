"""Settings: database URL forms, and every adapter setting reachable from LIVENESS_*."""

from __future__ import annotations

import dataclasses

import pytest

from app.config import Settings
from monitors import MonitorConfig


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_database_url_forms(given: str, expected: str) -> None:
    assert Settings(_env_file=None, database_url=given).database_url == expected


def test_default_is_sqlite_in_working_directory() -> None:
    settings = Settings(_env_file=None)
    assert settings.is_sqlite and settings.database_url.endswith("/liveness.db")


def test_env_prefix_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVENESS_WEIBO_COOKIE", "SUB=secret-cookie")
    monkeypatch.setenv("LIVENESS_PORT", "9999")
    settings = Settings(_env_file=None)
    assert settings.port == 9999
    assert "secret-cookie" not in repr(settings)
    assert settings.monitor_config().weibo_cookie == "SUB=secret-cookie"


def test_every_monitor_setting_is_configurable() -> None:
    """A MonitorConfig field without a setting could never be changed by an operator."""
    settings_fields = set(Settings.model_fields)
    missing = [
        f.name
        for f in dataclasses.fields(MonitorConfig)
        if f.name not in settings_fields and not f.name.endswith("user_agent")
    ]
    assert missing == []


def test_simulator_url_overrides_every_base_url() -> None:
    config = Settings(_env_file=None, simulator_url="http://127.0.0.1:9000/").monitor_config()
    bases = [v for k, v in dataclasses.asdict(config).items() if k.endswith(("_url", "_base_url"))]
    assert bases and all(str(v).startswith("http://127.0.0.1:9000/") for v in bases)


def test_readme_documents_every_setting() -> None:
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    missing = [n for n in Settings.model_fields if f"`LIVENESS_{n.upper()}`" not in readme]
    assert missing == []
    assert readme.index("make demo") < readme.index("make test") < readme.index("## What it is")
