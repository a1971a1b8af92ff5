"""Run Alembic migrations from code (the CLI, `liveness serve` on SQLite, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from alembic import command

__all__ = ["alembic_config", "downgrade", "upgrade"]

_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for ``database_url`` that leaves logging alone."""
    config = Config(str(_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(_ROOT / "alembic"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (head by default)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Downgrade the database to ``revision`` (base by default)."""
    command.downgrade(alembic_config(database_url), revision)
