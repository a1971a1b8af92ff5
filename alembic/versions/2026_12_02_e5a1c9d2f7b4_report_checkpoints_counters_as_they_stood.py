"""report_checkpoint: the per-group counters as they stood at past times, on SQLite

A past time point's summary read flag history: one pass over every flag open then, ~40 ms of
SQL for 26,000 open flags, and the organisation summary missed p95 < 100 ms (bench/README.md).
The counters of ``report_tally`` corrected for the accounts changed since (revision
b8e4f27c9a13) only pay for the last week or so. Checkpoints carry that correction to any
time: ``report_checkpoint`` holds the counters at each time in ``report_checkpoint_time``
(taken daily and weekly by app/reports/checkpoints.py, from flag history), and a summary
reads the nearest one with the accounts changed in between corrected.

A checkpoint counts today's registry as it stood then, as flag history does: the accounts
active today, under their group keys of today. So when an account's status or a group key
changes, or it is deleted, its share of every checkpoint must move. Two SQLite triggers do
that, working out the account's share at each checkpoint time from its flag history (the
delete trigger runs before the delete, while the flags it cascades to are still there), in
the groupings whose row key changed. Measured with 122 checkpoints at 100,000 accounts, per
edited account: an organisation renamed ~2 ms, archived ~6 ms, moved to another region ~11 ms
(every grouping, both sides); about twice that with all ~230 kept. Edits of the registry are
rare, but a bulk re-organisation of 10,000 accounts spends 20 s to 2 minutes more in the
import's transaction. Recording the moves and folding them in bulk later would be cheaper.

SQLite only, like the counters; on PostgreSQL the tables stay empty. A later migration that
rebuilds ``account`` on SQLite (batch "move and copy") drops these triggers with the old
table, as it drops the counters': it must create them again (``create_triggers``).
tests/reports/test_tally.py fails if they are missing at head.

Revision ID: e5a1c9d2f7b4
Revises: b8e4f27c9a13
Create Date: 2026-12-02 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "e5a1c9d2f7b4"
down_revision: str | None = "b8e4f27c9a13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: the flag codes of app/flags/policy.py when this revision was written.
_CODES = (
    "stale",
    "zombie",
    "empty_shell",
    "unreachable",
    "unverified",
    "app_outdated",
    "duplicate",
    "blind",
)
# grouping -> the account column that is its key.
_GROUPINGS = {
    "region": "region_code",
    "organization": "organization",
    "department": "department",
    "platform": "platform",
    "region_name": "region_name",
}
_MOVED_BY = ("status", *_GROUPINGS.values())
_COUNTS = ("total", "checked", "failing", *(f"open_{code}" for code in _CODES))


def _open_at(row: str, condition: str) -> str:
    # Constants only: nothing here comes from outside.
    return (
        f"EXISTS (SELECT 1 FROM flag f WHERE f.account_id = {row}.id AND {condition} "  # noqa: S608
        "AND f.opened_at <= t.taken_at AND (f.resolved_at IS NULL OR f.resolved_at > t.taken_at))"
    )


def _move(row: str, sign: str, *, edited: bool) -> str:
    """Add ``sign`` times the share of the account ``row`` (OLD or NEW) to every checkpoint,
    in every grouping or (``edited``) only in those whose row key changed: each upsert costs
    ~7 µs, and an organisation renamed moves one grouping of five."""
    checked = f"({row}.first_checked_at IS NOT NULL AND {row}.first_checked_at <= t.taken_at)"
    shares = [
        "1",
        checked,
        f"({checked} AND {_open_at(row, 'f.veto = 1')})",
        *(_open_at(row, f"f.code = '{code}'") for code in _CODES),
    ]
    share_columns = ", ".join(f"{s} AS {c}" for s, c in zip(shares, _COUNTS, strict=True))
    groups = []
    for grouping, column in _GROUPINGS.items():
        keys = ("status", "region_code", column)
        moved = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in keys) if edited else "true"
        groups.append(
            f"SELECT '{grouping}' AS g, {row}.{column} AS k, {row}.region_code AS r WHERE {moved}"
        )
    columns = ", ".join(("taken_at", "grouping", "key", "region_code", *_COUNTS))
    signed = ", ".join(f"{sign}s.{c}" for c in _COUNTS)
    updates = ", ".join(f"{c} = {c} + excluded.{c}" for c in _COUNTS)
    # Constants only: nothing here comes from outside. CROSS JOIN keeps the shares the outer
    # loop: worked out once per checkpoint time for all the groupings.
    return (
        f"INSERT INTO report_checkpoint ({columns}) "  # noqa: S608
        f"SELECT s.taken_at, g.g, g.k, g.r, {signed} FROM "
        f"(SELECT t.taken_at AS taken_at, {share_columns} FROM report_checkpoint_time t "
        f"WHERE {row}.status = 'active' AND {row}.created_at <= t.taken_at) s "
        f"CROSS JOIN ({' UNION ALL '.join(groups)}) g "
        "WHERE true "
        f"ON CONFLICT (taken_at, grouping, key, region_code) DO UPDATE SET {updates};"
    )


def create_triggers() -> None:
    """The two triggers that keep every checkpoint counting today's registry."""
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _MOVED_BY)
    op.execute(
        f"CREATE TRIGGER tr_account_checkpoint_update AFTER UPDATE OF {', '.join(_MOVED_BY)} "
        f"ON account WHEN {changed} "
        f"BEGIN {_move('OLD', '-', edited=True)} {_move('NEW', '', edited=True)} END"
    )
    op.execute(
        "CREATE TRIGGER tr_account_checkpoint_delete BEFORE DELETE ON account "
        f"BEGIN {_move('OLD', '-', edited=False)} END"
    )


def upgrade() -> None:
    op.create_table(
        "report_checkpoint_time",
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("taken_at", name=op.f("pk_report_checkpoint_time")),
    )
    op.create_table(
        "report_checkpoint",
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("grouping", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        *(sa.Column(c, sa.Integer(), server_default="0", nullable=False) for c in _COUNTS),
        sa.PrimaryKeyConstraint(
            "taken_at", "grouping", "key", "region_code", name=op.f("pk_report_checkpoint")
        ),
        # Rows in key order: a checkpoint's groups are one range read, not a look-up each.
        sqlite_with_rowid=False,
    )
    if op.get_context().dialect.name == "sqlite":
        create_triggers()


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS tr_account_checkpoint_{event}")
    op.drop_table("report_checkpoint")
    op.drop_table("report_checkpoint_time")
