"""The reports' counter table, and the indexes they need on the registry and flag tables.

Declared here, beside the queries that use them, so the account and flag models stay as
their domains wrote them; app/models.py imports this module so Alembic sees them.

- ``report_tally``: per (grouping, group key, region code), the active accounts, the checked
  ones, the failing ones (checked, a single-veto flag open) and the accounts with each flag
  open; the grouping "region_name" counts the names each region code is registered under.
  On SQLite, triggers on ``account`` keep it (revision b8e4f27c9a13, which says why
  PostgreSQL leaves it empty); the summary as of now reads it instead of the accounts.
- ``report_checkpoint``: the same counters as they stood at each time in
  ``report_checkpoint_time`` (app/reports/checkpoints.py takes them: daily, weekly, monthly), for
  today's registry: SQLite triggers move an account's share of every checkpoint when its
  status or a group key changes, or it is deleted (revision e5a1c9d2f7b4). A past time
  point's summary reads the nearest one, corrected for what changed in between.

- One covering index per summary grouping, led by status: the per-group totals read an
  index in group order (no sort, no table rows).
- ``ix_account_flagged_<group>``: the same, partial, for accounts with a flag open, with the
  open-flag mirror; the summary as of now reads these instead of the flags.
- ``ix_flag_report`` holds every column the "open at a time point" test and the summary
  need, in account order, so the summary's flag pass never touches the flag rows (whose
  evidence JSON makes them wide) and meets the accounts in id order.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, PrimaryKeyConstraint, String, Table, text

from app.accounts.models import Account
from app.db import UTCDateTime, metadata
from app.flags.models import Flag
from app.flags.policy import FLAG_LABELS

__all__ = [
    "COUNTER_COLUMNS",
    "REPORT_INDEXES",
    "report_checkpoint",
    "report_checkpoint_hold",
    "report_checkpoint_time",
    "report_tally",
]

COUNTER_COLUMNS = ("total", "checked", "failing", *(f"open_{c}" for c in FLAG_LABELS))


def _counters() -> list[Column[int]]:
    return [Column(name, Integer, server_default="0", nullable=False) for name in COUNTER_COLUMNS]


report_tally = Table(
    "report_tally",
    metadata,
    Column("grouping", String(16), nullable=False),
    Column("key", String(200), nullable=False),
    Column("region_code", String(6), nullable=False),
    *_counters(),
    PrimaryKeyConstraint("grouping", "key", "region_code"),
)

report_checkpoint_time = Table(
    "report_checkpoint_time",
    metadata,
    Column("taken_at", UTCDateTime, primary_key=True),
)

report_checkpoint = Table(
    "report_checkpoint",
    metadata,
    Column("taken_at", UTCDateTime, nullable=False),
    Column("grouping", String(16), nullable=False),
    Column("key", String(200), nullable=False),
    Column("region_code", String(6), nullable=False),
    *_counters(),
    PrimaryKeyConstraint("taken_at", "grouping", "key", "region_code"),
    # Rows in key order: a checkpoint's groups are one range read, not a look-up each.
    sqlite_with_rowid=False,
)

# A row here, only ever inside a write transaction, holds the checkpoint move trigger while
# app/reports/moves.py moves many accounts' shares at once (revision f3b7d1a9c2e6).
report_checkpoint_hold = Table(
    "report_checkpoint_hold", metadata, Column("held", Integer, primary_key=True)
)

_account = Account.__table__.c  # type: ignore[attr-defined]
_flag = Flag.__table__.c  # type: ignore[attr-defined]

REPORT_INDEXES = (
    Index(
        "ix_account_report_region",
        _account.status,
        _account.region_code,
        _account.region_name,
        _account.created_at,
        _account.first_checked_at,
    ),
    *(
        Index(
            f"ix_account_report_{name}",
            _account.status,
            _account[name],
            _account.created_at,
            _account.first_checked_at,
        )
        for name in ("organization", "department", "platform")
    ),
    *(
        Index(
            f"ix_account_flagged_{name}",
            _account.status,
            _account[column],
            _account.first_checked_at,
            _account.open_flags,
            _account.veto_open,
            sqlite_where=text("open_flags != 0"),
            postgresql_where=text("open_flags != 0"),
        )
        for name, column in (
            ("region", "region_code"),
            ("organization", "organization"),
            ("department", "department"),
            ("platform", "platform"),
        )
    ),
    # Range searches for what changed after a time point (app/reports/past.py summary_at).
    Index("ix_account_created_at", _account.created_at),
    Index("ix_account_first_checked_at", _account.first_checked_at),
    Index("ix_flag_resolved_at", _flag.resolved_at, _flag.account_id),
    Index(
        "ix_flag_report",
        _flag.account_id,
        _flag.opened_at,
        _flag.resolved_at,
        _flag.code,
        _flag.veto,
    ),
)
