"""report_tally: per-group counters of the active accounts, kept by triggers on SQLite

The summary as of now read two index passes over every account (~40 ms of SQL at 100,000
accounts, 4,000 organisations). On SQLite, triggers on ``account`` now keep one row per
(grouping, group key, region code) with the active accounts, the checked ones, the failing
ones (checked, a single-veto flag open) and the accounts with each flag open, so the summary
reads a few thousand counter rows instead. A recent past time point reads them too, with the
accounts changed since taken back (app/reports/tally.py); indexes on created_at,
first_checked_at, opened_at and resolved_at find those. The grouping "region_name" counts the
names each region code is registered under, so the summary shows the same name as before
(the greatest).

SQLite only: it has one writer at a time, so counters updated in place cost nothing in
contention. On PostgreSQL concurrent check writers would queue on the hot counter rows (every
account of a region shares one) and deadlock across batches, while its hash aggregate over the
accounts is fast; there the table stays empty and the summary keeps aggregating the accounts.

A later migration that rebuilds ``account`` on SQLite (batch mode "move and copy", e.g. to
drop or alter a column) drops these triggers with the old table: it must create them again
(``create_triggers``) and rebuild the counters (``rebuild``). tests/reports/test_tally.py fails
if they are missing at head.

Revision ID: b8e4f27c9a13
Revises: c4d81f0a6e37
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "b8e4f27c9a13"
down_revision: str | None = "c4d81f0a6e37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: the bits of app/flags/policy.py FLAG_BITS when this revision was written.
_BITS = {
    "stale": 1,
    "zombie": 2,
    "empty_shell": 4,
    "unreachable": 8,
    "unverified": 16,
    "app_outdated": 32,
    "duplicate": 64,
    "blind": 128,
}
# grouping -> the account column that is its key.
_GROUPINGS = {
    "region": "region_code",
    "organization": "organization",
    "department": "department",
    "platform": "platform",
    "region_name": "region_name",
}
_TRACKED = (
    "status",
    "region_code",
    "region_name",
    "organization",
    "department",
    "platform",
    "first_checked_at",
    "open_flags",
    "veto_open",
)
_COUNTS = ("total", "checked", "failing", *(f"open_{code}" for code in _BITS))
_ALIASES = ("g", "k", "r", *(f"c{i}" for i in range(len(_COUNTS))))


def _contributions(row: str, sign: str) -> list[str]:
    """One SELECT per grouping: what the account ``row`` (OLD or NEW) counts, times ``sign``."""
    checked = f"({row}.first_checked_at IS NOT NULL)"
    counts = [
        f"{sign}1",
        f"{sign}{checked}",
        f"{sign}({checked} AND {row}.veto_open)",
        *(f"{sign}(({row}.open_flags & {bit}) != 0)" for bit in _BITS.values()),
    ]
    selects = []
    for grouping, column in _GROUPINGS.items():
        values = [f"'{grouping}'", f"{row}.{column}", f"{row}.region_code", *counts]
        named = ", ".join(f"{v} AS {a}" for v, a in zip(values, _ALIASES, strict=True))
        selects.append(f"SELECT {named} WHERE {row}.status = 'active'")
    return selects


def _apply(selects: list[str]) -> str:
    columns = ", ".join(("grouping", "key", "region_code", *_COUNTS))
    sums = ", ".join(f"sum(c{i})" for i in range(len(_COUNTS)))
    inner = " UNION ALL ".join(selects)
    updates = ", ".join(f"{c} = {c} + excluded.{c}" for c in _COUNTS)
    # Constants only: nothing here comes from outside.
    return (
        f"INSERT INTO report_tally ({columns}) "  # noqa: S608
        f"SELECT g, k, r, {sums} FROM ({inner}) "
        "WHERE true GROUP BY g, k, r "
        f"ON CONFLICT (grouping, key, region_code) DO UPDATE SET {updates};"
    )


def create_triggers() -> None:
    """The three triggers that keep report_tally in step with every write to account."""
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _TRACKED)
    old, new = _contributions("OLD", "-"), _contributions("NEW", "")
    op.execute(
        f"CREATE TRIGGER tr_account_tally_insert AFTER INSERT ON account BEGIN {_apply(new)} END"
    )
    op.execute(
        f"CREATE TRIGGER tr_account_tally_update AFTER UPDATE OF {', '.join(_TRACKED)} "
        f"ON account WHEN {changed} BEGIN {_apply(old + new)} END"
    )
    op.execute(
        f"CREATE TRIGGER tr_account_tally_delete AFTER DELETE ON account BEGIN {_apply(old)} END"
    )


def rebuild() -> None:
    """Count every active account again (the triggers keep the counts from here on)."""
    op.execute("DELETE FROM report_tally")
    checked = "(first_checked_at IS NOT NULL)"
    counts = ", ".join(
        [
            "count(*)",
            f"sum({checked})",
            f"sum({checked} AND veto_open)",
            *(f"sum((open_flags & {bit}) != 0)" for bit in _BITS.values()),
        ]
    )
    columns = ", ".join(("grouping", "key", "region_code", *_COUNTS))
    for grouping, column in _GROUPINGS.items():
        op.execute(
            f"INSERT INTO report_tally ({columns}) "  # noqa: S608
            f"SELECT '{grouping}', {column}, region_code, {counts} FROM account "
            f"WHERE status = 'active' GROUP BY {column}, region_code"
        )


def upgrade() -> None:
    op.create_table(
        "report_tally",
        sa.Column("grouping", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        *(sa.Column(c, sa.Integer(), server_default="0", nullable=False) for c in _COUNTS),
        sa.PrimaryKeyConstraint("grouping", "key", "region_code", name=op.f("pk_report_tally")),
    )
    # What changed after a time point, by range search: the counters' recent-time summary.
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.create_index("ix_account_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_account_first_checked_at", ["first_checked_at"], unique=False)
    with op.batch_alter_table("flag", schema=None) as batch_op:
        batch_op.create_index("ix_flag_resolved_at", ["resolved_at", "account_id"], unique=False)
        # Covering: the accounts with a flag opened after a time point, no flag row read.
        batch_op.drop_index("ix_flag_opened_at")
        batch_op.create_index("ix_flag_opened_at", ["opened_at", "account_id"], unique=False)
    if op.get_context().dialect.name == "sqlite":
        create_triggers()
        rebuild()


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS tr_account_tally_{event}")
    with op.batch_alter_table("flag", schema=None) as batch_op:
        batch_op.drop_index("ix_flag_opened_at")
        batch_op.create_index("ix_flag_opened_at", ["opened_at"], unique=False)
        batch_op.drop_index("ix_flag_resolved_at")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_index("ix_account_first_checked_at")
        batch_op.drop_index("ix_account_created_at")
    op.drop_table("report_tally")
