"""Webhook endpoints and their deliveries (DESIGN §8).

A delivery row is the whole state of one event's way to one endpoint: status, attempts, when
to try next, the last answer, and a lease like the account claim's, so a killed process loses
nothing and two processes never send the same attempt at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow

__all__ = ["DELIVERY_STATUSES", "WebhookDelivery", "WebhookEndpoint"]

DELIVERY_STATUSES = ("pending", "succeeded", "failed")


class WebhookEndpoint(SQLModel, table=True):
    """Where events go. Secrets must sign, so they are stored as issued (never returned or
    logged after create/rotate); ``previous_secret`` also signs until its expiry."""

    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column=Column(String(2000), nullable=False))
    description: str = Field(default="", sa_column=Column(String(500), nullable=False))
    # JSON list of event types; NULL means every type.
    event_types: str | None = Field(default=None, sa_column=Column(Text))
    region_prefix: str | None = Field(default=None, sa_column=Column(String(6)))
    enabled: bool = Field(default=True, nullable=False)
    secret: str = Field(repr=False, sa_column=Column(String(100), nullable=False))
    previous_secret: str | None = Field(default=None, repr=False, sa_column=Column(String(100)))
    previous_secret_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    created_by: str = Field(default="", sa_column=Column(String(100), nullable=False))
    # Set at the first failure after a success; a failure outlasting the retry window disables.
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str | None = Field(default=None, sa_column=Column(String(500)))


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint. ``window_started_at`` is the first attempt of the current
    round (a redelivery or replay starts a new round)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_delivery_endpoint_id_id", "endpoint_id", "id"),
        # The sender looks only at pending rows, soonest first.
        Index(
            "ix_webhook_delivery_due",
            "next_attempt_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), nullable=False
        )
    )
    event_id: int = Field(
        sa_column=Column(Integer, ForeignKey("outbox_event.id", ondelete="CASCADE"), nullable=False)
    )
    status: str = Field(default="pending", sa_column=Column(String(10), nullable=False))
    attempts: int = Field(default=0, nullable=False)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    window_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, sa_column=Column(String(500)))
    succeeded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_token: str | None = Field(default=None, sa_column=Column(String(16)))
