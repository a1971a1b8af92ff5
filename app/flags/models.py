"""Flags, their history, and silences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Text, text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow

__all__ = ["Flag", "FlagChange", "FlagSilence"]


class Flag(SQLModel, table=True):
    """One episode of one problem on one account: opened, maybe acknowledged, resolved.

    At most one flag per (account, code) is open at a time; a problem that comes back opens
    a new flag, so each episode keeps its own evidence and dates.
    """

    __tablename__ = "flag"
    __table_args__ = (
        Index("ix_flag_state_code", "state", "code"),
        Index("ix_flag_account_id_code", "account_id", "code"),
        Index("ix_flag_opened_at", "opened_at"),
        Index(
            "uq_flag_open_account_code",
            "account_id",
            "code",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(
        sa_column=Column(Integer, ForeignKey("account.id", ondelete="CASCADE"), nullable=False)
    )
    platform: str = Field(sa_column=Column(String(16), nullable=False))
    code: str = Field(sa_column=Column(String(16), nullable=False))
    state: str = Field(default="open", sa_column=Column(String(8), nullable=False))
    veto: bool = Field(default=False, nullable=False)
    rule: str = Field(default="", sa_column=Column(String(200), nullable=False))
    source: str = Field(default="", sa_column=Column(String(300), nullable=False))
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    evidence: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    resolution: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: str | None = Field(default=None, sa_column=Column(String(100)))
    ack_note: str | None = Field(default=None, sa_column=Column(String(500)))


class FlagChange(SQLModel, table=True):
    """One row of a flag's history: opened, resolved, acknowledged, silenced."""

    __tablename__ = "flag_change"
    __table_args__ = (Index("ix_flag_change_flag_id", "flag_id"),)

    id: int | None = Field(default=None, primary_key=True)
    flag_id: int = Field(
        sa_column=Column(Integer, ForeignKey("flag.id", ondelete="CASCADE"), nullable=False)
    )
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    change: str = Field(sa_column=Column(String(16), nullable=False))
    by: str = Field(default="rules", sa_column=Column(String(100), nullable=False))
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class FlagSilence(SQLModel, table=True):
    """No events for (account, code) until ``until``, whatever flag episodes come and go."""

    __tablename__ = "flag_silence"

    account_id: int = Field(
        sa_column=Column(Integer, ForeignKey("account.id", ondelete="CASCADE"), primary_key=True)
    )
    code: str = Field(sa_column=Column(String(16), primary_key=True))
    until: datetime = Field(sa_type=UTCDateTime, nullable=False)
    reason: str = Field(sa_column=Column(String(500), nullable=False))
    by: str = Field(sa_column=Column(String(100), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
