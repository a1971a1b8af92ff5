"""Inspections (检查): a scope and a time point, and what was frozen for them when taken.

Nothing here refers to the live registry or flag rows by foreign key: an inspection outlives
the accounts it froze (archived, edited, deleted), which is the point of freezing them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Float, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow

__all__ = ["Inspection", "InspectionAccount", "InspectionFlag"]


class Inspection(SQLModel, table=True):
    """One inspection round: its name, time point, scope, sample and headline counts.

    ``scope`` is the canonical JSON of the scope (sorted lists) and ``scope_key`` its SHA-256,
    so inspections of the same scope are found by an index; ``region_prefix`` repeats its
    region for the key scopes' prefix filter. ``previous_id`` is the earlier inspection of the
    same scope, chosen when this one was taken: the rectification is measured against it, so
    it cannot be deleted first.
    """

    __tablename__ = "inspection"
    __table_args__ = (
        Index("ix_inspection_region_prefix", "region_prefix"),
        Index("ix_inspection_scope_key_at", "scope_key", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    region_prefix: str | None = Field(default=None, sa_column=Column(String(6)))
    scope: str = Field(sa_column=Column(Text, nullable=False))
    scope_key: str = Field(sa_column=Column(String(64), nullable=False))
    sample_ratio: float | None = Field(default=None, sa_column=Column(Float))
    sample_size: int | None = Field(default=None)
    sample_seed: int | None = Field(default=None, sa_column=Column(BigInteger))
    accounts_in_scope: int = Field(nullable=False)
    sampled: int = Field(nullable=False)
    checked: int = Field(nullable=False)
    passing: int = Field(nullable=False)
    previous_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("inspection.id")),
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    created_by: str = Field(sa_column=Column(String(100), nullable=False))


class InspectionAccount(SQLModel, table=True):
    """One account as it stood in an inspection: registry fields, verdict, last post and check.

    ``passes`` is None for an account not yet checked at the time point (未检查).
    """

    __tablename__ = "inspection_account"

    inspection_id: int = Field(
        sa_column=Column(Integer, ForeignKey("inspection.id", ondelete="CASCADE"), primary_key=True)
    )
    account_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    platform: str = Field(sa_column=Column(String(16), nullable=False))
    handle: str = Field(sa_column=Column(String(2048), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    organization: str = Field(sa_column=Column(String(200), nullable=False))
    region_code: str = Field(sa_column=Column(String(6), nullable=False))
    region_name: str = Field(sa_column=Column(String(100), nullable=False))
    department: str = Field(sa_column=Column(String(200), nullable=False))
    level: str | None = Field(default=None, sa_column=Column(String(16)))
    category: str = Field(sa_column=Column(String(100), nullable=False))
    passes: bool | None = Field(default=None)
    last_post_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_check_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    last_outcome: str | None = Field(default=None, sa_column=Column(String(16)))


class InspectionFlag(SQLModel, table=True):
    """A flag open on an inspected account at the time point, with its evidence and the check
    that decided it (``check_id``, from the evidence; None for rules no check decides)."""

    __tablename__ = "inspection_flag"
    __table_args__ = (
        Index("ix_inspection_flag_inspection_account", "inspection_id", "account_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    inspection_id: int = Field(
        sa_column=Column(Integer, ForeignKey("inspection.id", ondelete="CASCADE"), nullable=False)
    )
    account_id: int = Field(nullable=False)
    flag_id: int = Field(nullable=False)
    code: str = Field(sa_column=Column(String(16), nullable=False))
    veto: bool = Field(nullable=False)
    opened_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    rule: str = Field(sa_column=Column(String(200), nullable=False))
    source: str = Field(sa_column=Column(String(300), nullable=False))
    evidence: str = Field(sa_column=Column(Text, nullable=False))
    check_id: int | None = Field(default=None, sa_column=Column(BigInteger))
