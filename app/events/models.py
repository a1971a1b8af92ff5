"""The outbox: every event is written in the same transaction as the change it reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, String, Text, text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow

__all__ = ["OutboxEvent"]


class OutboxEvent(SQLModel, table=True):
    """An event waiting for (or done with) delivery. ``payload`` is the JSON body's data."""

    __tablename__ = "outbox_event"
    __table_args__ = (
        Index("ix_outbox_event_created_at", "created_at"),
        # The fan-out job walks only the events not yet handed to webhook deliveries.
        Index(
            "ix_outbox_event_undispatched",
            "id",
            sqlite_where=text("dispatched_at IS NULL"),
            postgresql_where=text("dispatched_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    type: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    account_id: int | None = Field(default=None)
    region_code: str | None = Field(default=None, sa_column=Column(String(6)))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
