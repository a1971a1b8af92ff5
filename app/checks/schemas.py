"""API shapes for checks and platforms."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["CheckRead", "PlatformRead"]


class CheckRead(BaseModel):
    """One stored observation with its evidence."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: int
    platform: str
    checked_at: datetime
    outcome: str
    outcome_class: str
    http_status: int | None
    last_post_at: datetime | None
    followers: int | None
    post_count: int | None
    verified: bool | None
    display_name: str | None
    elapsed_ms: float | None
    evidence: dict[str, Any]
    error: str | None

    @field_validator("evidence", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class PlatformRead(BaseModel):
    """A platform's health: canary verdict, last check, backlog, outcomes in the last hour."""

    platform: str
    degraded: bool
    reason: str
    changed_at: datetime | None
    last_canary_at: datetime | None
    last_check_at: datetime | None
    overdue: int
    outcomes_last_hour: dict[str, int]
