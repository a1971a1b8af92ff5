"""The registry table: one row per watched account, with its latest snapshot."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, Index, Integer, String, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow

__all__ = ["Account"]


class Account(SQLModel, table=True):
    """A government account, app or website under watch (DESIGN §5).

    ``tags`` is stored as ``,a,b,`` so a tag filter is one indexed-free LIKE that works the same
    on SQLite and PostgreSQL; the API shows it as a list.
    """

    __tablename__ = "account"
    __table_args__ = (
        UniqueConstraint("platform", "handle"),
        Index("ix_account_region_code", "region_code"),
        Index("ix_account_organization", "organization"),
        Index("ix_account_status", "status"),
        Index("ix_account_status_next_check_at", "status", "next_check_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(sa_column=Column(String(16), nullable=False))
    handle: str = Field(sa_column=Column(String(2048), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    organization: str = Field(default="", sa_column=Column(String(200), nullable=False))
    region_code: str = Field(default="", sa_column=Column(String(6), nullable=False))
    region_name: str = Field(default="", sa_column=Column(String(100), nullable=False))
    department: str = Field(default="", sa_column=Column(String(200), nullable=False))
    level: str | None = Field(default=None, sa_column=Column(String(16)))
    category: str = Field(default="", sa_column=Column(String(100), nullable=False))
    status: str = Field(default="active", sa_column=Column(String(16), nullable=False))
    tags: str = Field(default="", sa_column=Column(String(1000), nullable=False))
    check_interval_s: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    # The latest snapshot, written by the check pipeline.
    first_checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_outcome: str | None = Field(default=None, sa_column=Column(String(16)))
    last_post_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    followers: int | None = Field(default=None)
    post_count: int | None = Field(default=None)
    verified: bool | None = Field(default=None)
    observed_name: str | None = Field(default=None, sa_column=Column(String(200)))

    # Scheduling (DESIGN §9): due when next_check_at has passed (NULL: never checked) and no
    # live lease is held; a lease that expires makes the account due again.
    next_check_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_token: str | None = Field(default=None, sa_column=Column(String(32)))
    unknown_streak: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )

    # The open flags, kept by the flag lifecycle in the same transaction as the flags
    # themselves (app/flags/service.py): one bit per code (FLAG_BITS), and whether any open
    # flag is a single veto. The current-time summary reads these from a covering index
    # instead of joining every open flag; past time points still come from flag history.
    open_flags: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    veto_open: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )

    @property
    def tag_list(self) -> list[str]:
        """The tags as a list, in stored order."""
        return [t for t in self.tags.split(",") if t]

    @staticmethod
    def encode_tags(tags: list[str]) -> str:
        """The stored form of a tag list (deduplicated, order kept)."""
        unique = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
        return f",{','.join(unique)}," if unique else ""
