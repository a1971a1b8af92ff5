"""API keys: only a hash of each key is stored; the key itself is shown once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow

__all__ = ["ApiKey"]


class ApiKey(SQLModel, table=True):
    """A bearer key with a role and an optional region-code prefix scope."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), nullable=False))
    prefix: str = Field(sa_column=Column(String(12), nullable=False))
    key_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    region_prefix: str | None = Field(default=None, sa_column=Column(String(6)))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
