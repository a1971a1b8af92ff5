"""Migrations: upgrade, the models match them (alembic check), and downgrade to base."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text

from alembic import command
from app.db import sync_url
from app.migrations import alembic_config, downgrade, upgrade

# What revisions b8e4f27c9a13, e5a1c9d2f7b4 and f3b7d1a9c2e6 made and 5b0e7c1d2a93 drops.
REPORT_COUNTER_TABLES = {
    "report_tally",
    "report_checkpoint",
    "report_checkpoint_time",
    "report_checkpoint_hold",
}
REPORT_COUNTER_TRIGGERS = {
    "tr_account_tally_insert",
    "tr_account_tally_update",
    "tr_account_tally_delete",
    "tr_account_checkpoint_update",
    "tr_account_checkpoint_delete",
}
REPORT_COUNTER_INDEXES = {"ix_account_created_at", "ix_account_first_checked_at"}


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


def _triggers(url: str) -> set[str]:
    """The triggers on the account table (procrastinate keeps its own on PostgreSQL)."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                query = text(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'account'"
                )
            else:
                query = text(
                    "SELECT trigger_name FROM information_schema.triggers"
                    " WHERE event_object_table = 'account'"
                )
            return set(conn.execute(query).scalars())
    finally:
        engine.dispose()


def _account_indexes(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return {str(index["name"]) for index in inspect(engine).get_indexes("account")}
    finally:
        engine.dispose()


def test_report_counters_and_checkpoints_are_gone_at_head(database_url: str) -> None:
    """One read path for summaries (issue 17): no counter tables, triggers or the indexes
    only they read at head; downgrading past 5b0e7c1d2a93 brings back what the three
    revisions made (triggers on SQLite only, which is all they made there), and upgrading
    drops it again."""
    assert not REPORT_COUNTER_TABLES & _tables(database_url)
    assert not REPORT_COUNTER_TRIGGERS & _triggers(database_url)
    assert not REPORT_COUNTER_INDEXES & _account_indexes(database_url)

    downgrade(database_url, "f3b7d1a9c2e6")
    assert _tables(database_url) >= REPORT_COUNTER_TABLES
    sqlite = database_url.startswith("sqlite")
    assert _triggers(database_url) == (REPORT_COUNTER_TRIGGERS if sqlite else set())
    assert _account_indexes(database_url) >= REPORT_COUNTER_INDEXES

    upgrade(database_url)
    assert not REPORT_COUNTER_TABLES & _tables(database_url)
    assert not _triggers(database_url)
    command.check(alembic_config(database_url))


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
