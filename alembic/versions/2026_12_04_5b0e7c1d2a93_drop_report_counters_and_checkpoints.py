"""Drop the report counters and checkpoints: one read path for summaries (issue 17)

Revisions b8e4f27c9a13, e5a1c9d2f7b4 and f3b7d1a9c2e6 kept per-group counters of the
summary (``report_tally``) and checkpoints of them at past times (``report_checkpoint``,
``report_checkpoint_time``, ``report_checkpoint_hold``), with SQLite triggers on ``account``
holding their own frozen copy of the flag codes and groupings. They computed one figure in
six places, every new flag code needed a trigger migration, and an import moving 10,000
accounts to another region spent 17 s in its transaction; the gain was ~50 ms on one summary,
on SQLite only. Summaries now read the accounts' open-flag mirror as of now and flag history
as of a past time, on both databases (DESIGN §11).

Upgrade drops the triggers (SQLite), the four tables (both: PostgreSQL has them empty) and
the range-search indexes the counters' past-time correction read: ``account.created_at``,
``account.first_checked_at``, ``flag (resolved_at, account_id)``; ``ix_flag_opened_at`` goes
back to ``opened_at`` alone. The schema is then what it was at c4d81f0a6e37.

Downgrade runs the three revisions' own upgrades again, in order (they stay in this folder,
unchanged): the tables, indexes and triggers exactly as they made them, the counters rebuilt
from the accounts. The checkpoints come back empty; the scheduler's job of that release took
them again.

Revision ID: 5b0e7c1d2a93
Revises: f3b7d1a9c2e6
Create Date: 2026-12-04 18:00:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "5b0e7c1d2a93"
down_revision: str | None = "f3b7d1a9c2e6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The revisions this one undoes, oldest first.
_UNDONE = (
    "2026_12_02_b8e4f27c9a13_report_tally_per_group_counters_on_sqlite.py",
    "2026_12_02_e5a1c9d2f7b4_report_checkpoints_counters_as_they_stood.py",
    "2026_12_02_f3b7d1a9c2e6_report_checkpoint_hold_bulk_moves.py",
)
TRIGGERS = (
    "tr_account_checkpoint_delete",
    "tr_account_checkpoint_update",
    "tr_account_tally_delete",
    "tr_account_tally_insert",
    "tr_account_tally_update",
)
TABLES = ("report_checkpoint_hold", "report_checkpoint", "report_checkpoint_time", "report_tally")


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for trigger in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for table in TABLES:
        op.drop_table(table)
    with op.batch_alter_table("flag", schema=None) as batch_op:
        batch_op.drop_index("ix_flag_resolved_at")
        batch_op.drop_index("ix_flag_opened_at")
        batch_op.create_index("ix_flag_opened_at", ["opened_at"], unique=False)
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_index("ix_account_first_checked_at")
        batch_op.drop_index("ix_account_created_at")


def downgrade() -> None:
    for name in _UNDONE:
        path = Path(__file__).with_name(name)
        spec = importlib.util.spec_from_file_location(f"_undone_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.upgrade()
