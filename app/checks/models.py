"""Check history and per-platform health."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow

__all__ = ["CheckResult", "PlatformHealth"]


class CheckResult(SQLModel, table=True):
    """One observation of one account, as stored. ``evidence`` is JSON text."""

    __tablename__ = "check_result"
    __table_args__ = (
        Index("ix_check_result_account_id_id", "account_id", "id"),
        Index("ix_check_result_checked_at", "checked_at"),
        Index("ix_check_result_platform_checked_at", "platform", "checked_at"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    )
    account_id: int = Field(
        sa_column=Column(Integer, ForeignKey("account.id", ondelete="CASCADE"), nullable=False)
    )
    platform: str = Field(sa_column=Column(String(16), nullable=False))
    checked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    outcome: str = Field(sa_column=Column(String(16), nullable=False))
    outcome_class: str = Field(sa_column=Column(String(8), nullable=False))
    http_status: int | None = Field(default=None)
    last_post_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    followers: int | None = Field(default=None, sa_column=Column(BigInteger))
    post_count: int | None = Field(default=None, sa_column=Column(BigInteger))
    verified: bool | None = Field(default=None)
    display_name: str | None = Field(default=None, sa_column=Column(String(200)))
    elapsed_ms: float | None = Field(default=None)
    evidence: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(String(500)))


class PlatformHealth(SQLModel, table=True):
    """What the canaries last said of a platform. While degraded, gone flags are held."""

    __tablename__ = "platform_health"

    platform: str = Field(sa_column=Column(String(16), primary_key=True))
    degraded: bool = Field(default=False, nullable=False)
    reason: str = Field(default="", sa_column=Column(String(300), nullable=False))
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_canary_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
