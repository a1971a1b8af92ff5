"""API shapes for webhook endpoints, deliveries and events."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.events.models import OutboxEvent
from app.events.webhook_models import WebhookDelivery, WebhookEndpoint
from app.params import REGION_PREFIX_PATTERN

__all__ = [
    "DeliveryRead",
    "EventRead",
    "ReplayResult",
    "SecretRotated",
    "WebhookCreate",
    "WebhookCreated",
    "WebhookRead",
    "WebhookUpdate",
    "delivery_read",
    "webhook_read",
]

SubscribableType = Literal[
    "flag.opened",
    "flag.resolved",
    "account.created",
    "account.updated",
    "account.archived",
    "platform.degraded",
    "platform.recovered",
    "inspection.created",
    "webhook.disabled",
]
RegionPrefix = str | None


class WebhookCreate(BaseModel):
    """A new endpoint. ``event_types`` null (the default) subscribes to every type."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000, description="https:// URL to POST events to.")
    description: str = Field(default="", max_length=500)
    event_types: list[SubscribableType] | None = Field(
        default=None, min_length=1, description="Event types to send; null for all."
    )
    region_prefix: RegionPrefix = Field(
        default=None,
        pattern=REGION_PREFIX_PATTERN,
        description="Only events of accounts whose region code starts with this "
        "(platform-wide events are still sent).",
    )
    enabled: bool = True


class WebhookUpdate(BaseModel):
    """Fields to change; omitted fields stay. Enabling a disabled endpoint clears its reason."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2000)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[SubscribableType] | None = Field(default=None, min_length=1)
    region_prefix: RegionPrefix = Field(default=None, pattern=REGION_PREFIX_PATTERN)
    enabled: bool | None = None


class WebhookRead(BaseModel):
    """An endpoint, without its secret."""

    id: int
    url: str
    description: str
    event_types: list[str] | None
    region_prefix: str | None
    enabled: bool
    created_at: datetime
    updated_at: datetime
    created_by: str
    disabled_at: datetime | None
    disabled_reason: str | None
    previous_secret_until: datetime | None = Field(
        description="Until then deliveries are signed with the old secret as well."
    )


class WebhookCreated(WebhookRead):
    """The endpoint just created, with its secret: shown this once."""

    secret: str = Field(description="whsec_… signing secret; store it now, it is not shown again.")


class SecretRotated(BaseModel):
    """The new secret, shown once; the old one keeps signing until ``previous_secret_until``."""

    id: int
    secret: str
    previous_secret_until: datetime | None


class DeliveryRead(BaseModel):
    """One event's delivery to one endpoint."""

    id: int
    endpoint_id: int
    event_id: str = Field(description="The webhook-id header: the same on every attempt.")
    event_type: str
    event_created_at: datetime
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    succeeded_at: datetime | None
    created_at: datetime


class ReplayResult(BaseModel):
    """How many deliveries a replay queued."""

    queued: int
    since: datetime


class EventRead(BaseModel):
    """An outbox event as delivered: type, time, data."""

    id: int
    event_id: str
    type: str
    created_at: datetime
    account_id: int | None
    region_code: str | None
    data: dict[str, Any]

    _parse = field_validator("data", mode="before")(
        lambda v: json.loads(v) if isinstance(v, str) else v
    )


def webhook_read(endpoint: WebhookEndpoint) -> WebhookRead:
    """The API view of an endpoint: never its secrets."""
    assert endpoint.id is not None
    return WebhookRead(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        event_types=json.loads(endpoint.event_types) if endpoint.event_types else None,
        region_prefix=endpoint.region_prefix,
        enabled=endpoint.enabled,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
        created_by=endpoint.created_by,
        disabled_at=endpoint.disabled_at,
        disabled_reason=endpoint.disabled_reason,
        previous_secret_until=endpoint.previous_secret_until,
    )


def delivery_read(row: WebhookDelivery, event: OutboxEvent) -> DeliveryRead:
    """The API view of a delivery, named by its event."""
    assert row.id is not None
    return DeliveryRead(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=event.event_id,
        event_type=event.type,
        event_created_at=event.created_at,
        status=row.status,
        attempts=row.attempts,
        last_attempt_at=row.last_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        succeeded_at=row.succeeded_at,
        created_at=row.created_at,
    )
