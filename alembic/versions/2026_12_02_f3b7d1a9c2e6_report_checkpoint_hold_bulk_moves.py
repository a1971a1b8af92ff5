"""report_checkpoint_hold: let a bulk edit move checkpoint shares in one statement

The trigger tr_account_checkpoint_update (revision e5a1c9d2f7b4) moves one edited account's
share of every checkpoint: a registry import re-organising 10,000 accounts spent up to two
minutes in it. A row in ``report_checkpoint_hold`` now holds the trigger; app/reports/moves.py
writes one inside the import's transaction, flushes the edits, moves all their shares with
one set-based statement and deletes the row before the transaction ends, so no other
connection ever sees it held.

The trigger is created again with the hold in its WHEN clause; its body is the one revision
e5a1c9d2f7b4 created, read back from sqlite_master. SQLite only, as the trigger is.

Revision ID: f3b7d1a9c2e6
Revises: e5a1c9d2f7b4
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "f3b7d1a9c2e6"
down_revision: str | None = "e5a1c9d2f7b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRIGGER = "tr_account_checkpoint_update"
_WHEN = " ON account WHEN "
_HELD = "NOT EXISTS (SELECT 1 FROM report_checkpoint_hold) AND ("


def _recreate(rewrite: Callable[[str], str]) -> None:
    """Drop the trigger and create it again from its SQL, its WHEN clause rewritten."""
    connection = op.get_bind()
    found = connection.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :name"),
        {"name": _TRIGGER},
    ).scalar()
    if found is None:
        raise RuntimeError(f"{_TRIGGER} is missing: revision e5a1c9d2f7b4 creates it")
    # The WHEN clause runs to the body's BEGIN: OLD.x IS NOT NEW.x terms only.
    head, body = str(found).split(" BEGIN ", 1)
    op.execute(f"DROP TRIGGER {_TRIGGER}")
    op.execute(f"{rewrite(head)} BEGIN {body}")


def _hold(head: str) -> str:
    if _WHEN not in head or _HELD in head:
        raise RuntimeError(f"unexpected {_TRIGGER}: {head[:200]}")
    return head.replace(_WHEN, _WHEN + _HELD, 1) + ")"


def _release(head: str) -> str:
    if _HELD not in head or not head.endswith(")"):
        raise RuntimeError(f"unexpected {_TRIGGER}: {head[:200]}")
    return head.replace(_HELD, "", 1)[:-1]


def upgrade() -> None:
    op.create_table(
        "report_checkpoint_hold",
        sa.Column("held", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("held", name=op.f("pk_report_checkpoint_hold")),
    )
    if op.get_context().dialect.name == "sqlite":
        _recreate(_hold)


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        _recreate(_release)
    op.drop_table("report_checkpoint_hold")
