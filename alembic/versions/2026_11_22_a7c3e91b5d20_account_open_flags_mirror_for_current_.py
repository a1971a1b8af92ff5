"""account.open_flags and veto_open: a mirror of the open flags for the current-time summary

The summary as of now reads these from partial covering indexes (accounts with a flag
open only) instead of joining every open flag. Past time points still come from flag
history. The flag lifecycle keeps the mirror in the flags' own transaction.

Revision ID: a7c3e91b5d20
Revises: 6d21c1139579
Create Date: 2026-11-22 04:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "a7c3e91b5d20"
down_revision: str | None = "6d21c1139579"
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
_GROUPS = {
    "region": ["region_code"],
    "organization": ["organization"],
    "department": ["department"],
    "platform": ["platform"],
}


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("open_flags", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("veto_open", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        # Only accounts with a flag open: the summary's flag pass reads a quarter of the rows.
        for name, columns in _GROUPS.items():
            batch_op.create_index(
                f"ix_account_flagged_{name}",
                ["status", *columns, "first_checked_at", "open_flags", "veto_open"],
                unique=False,
                sqlite_where=sa.text("open_flags != 0"),
                postgresql_where=sa.text("open_flags != 0"),
            )
    bits = " ".join(f"WHEN '{code}' THEN {bit}" for code, bit in _BITS.items())
    # Constants only: nothing here comes from outside.
    backfill = (
        "UPDATE account SET "  # noqa: S608
        f"open_flags = COALESCE((SELECT SUM(CASE flag.code {bits} ELSE 0 END) FROM flag "
        "WHERE flag.account_id = account.id AND flag.state = 'open'), 0), "
        "veto_open = EXISTS (SELECT 1 FROM flag WHERE flag.account_id = account.id "
        "AND flag.state = 'open' AND flag.veto)"
    )
    op.execute(backfill)


def downgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        for name in _GROUPS:
            batch_op.drop_index(f"ix_account_flagged_{name}")
        batch_op.drop_column("veto_open")
        batch_op.drop_column("open_flags")
