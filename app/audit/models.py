"""The audit log: one row per write, naming who did what to which target."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, String, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow

__all__ = ["AuditLog"]


class AuditLog(SQLModel, table=True):
    """A write made through the API or the CLI. ``key_name`` is kept even after the key goes."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    key_id: int | None = Field(default=None)
    key_name: str = Field(sa_column=Column(String(100), nullable=False))
    action: str = Field(sa_column=Column(String(64), nullable=False))
    target: str = Field(sa_column=Column(String(200), nullable=False))
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
