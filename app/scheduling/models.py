"""Scheduler heartbeats: when each scheduler process last ticked (for /readyz and metrics)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow

__all__ = ["SchedulerHeartbeat"]


class SchedulerHeartbeat(SQLModel, table=True):
    """One row per scheduler name; ``ticked_at`` moves on every claim tick."""

    __tablename__ = "scheduler_heartbeat"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    ticked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    claimed_total: int = Field(default=0, nullable=False)
