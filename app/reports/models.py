"""The indexes the report queries need on the registry and flag tables.

Declared here, beside the queries that use them, so the account and flag models stay as
their domains wrote them; app/models.py imports this module so Alembic sees them. The
reports keep no tables of their own: every figure is read from the accounts and the flags
(DESIGN §11).

- One covering index per summary grouping, led by status: the per-group totals read an
  index in group order (no sort, no table rows).
- ``ix_account_flagged_<group>``: the same, partial, for accounts with a flag open, with the
  open-flag mirror; the summary as of now reads these instead of the flags.
- ``ix_flag_report`` holds every column the "open at a time point" test and the summary
  need, in account order, so the summary's flag pass never touches the flag rows (whose
  evidence JSON makes them wide) and meets the accounts in id order.
"""

from __future__ import annotations

from sqlalchemy import Index, text

from app.accounts.models import Account
from app.flags.models import Flag

__all__ = ["REPORT_INDEXES"]

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
    Index(
        "ix_flag_report",
        _flag.account_id,
        _flag.opened_at,
        _flag.resolved_at,
        _flag.code,
        _flag.veto,
    ),
)
