"""Migrations: upgrade, the models match them (alembic check), and downgrade to base."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect

from alembic import command
from app.db import sync_url
from app.migrations import alembic_config, downgrade, upgrade


def _tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_check_downgrade(database_url: str) -> None:
    # The fixture's database is already at head.
    assert {"account", "api_key", "audit_log"} <= _tables(database_url)
    command.check(alembic_config(database_url))
    downgrade(database_url, "base")
    assert _tables(database_url) == set()
    upgrade(database_url)
    assert {"account", "api_key", "audit_log"} <= _tables(database_url)


def test_batch_mode_only_on_sqlite(database_url: str) -> None:
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            is_sqlite = MigrationContext.configure(conn).dialect.name == "sqlite"
    finally:
        engine.dispose()
    assert is_sqlite == database_url.startswith("sqlite")


@pytest.mark.parametrize("bad", ["mysql://x/y", "oracle://z"])
def test_unsupported_url_is_refused(bad: str) -> None:
    from pydantic import ValidationError

    from app.config import Settings

    with pytest.raises(ValidationError, match="LIVENESS_DATABASE_URL"):
        Settings(_env_file=None, database_url=bad)
