"""The index the scrape-time gauges need on the registry (no tables of their own).

``ix_account_metrics`` holds every column the accounts-by-state and inspected/passing gauges
group and count, in their GROUP BY order: a scrape reads it once, with no sort and no table
rows (the account rows are wide). Imported by app/models.py so Alembic sees it.
"""

from __future__ import annotations

from sqlalchemy import Index

from app.accounts.models import Account

__all__ = ["METRICS_INDEXES"]

_account = Account.__table__.c  # type: ignore[attr-defined]

METRICS_INDEXES = (
    Index(
        "ix_account_metrics",
        _account.status,
        _account.platform,
        _account.region_code,
        _account.last_outcome,
        _account.first_checked_at,
        _account.veto_open,
    ),
)
