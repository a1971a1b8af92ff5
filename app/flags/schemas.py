"""API shapes for flags."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.params import IsoDatetime

__all__ = ["AckRequest", "FlagChangeRead", "FlagRead", "SilenceRequest"]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class FlagRead(BaseModel):
    """A flag with the rule, threshold and source that raised it, and its evidence."""

    id: int
    code: str
    label_zh: str
    state: Literal["open", "resolved"]
    veto: bool
    account_id: int
    platform: str
    account_name: str
    organization: str
    region_code: str
    rule: str = Field(description="The thresholds that applied, e.g. days=14.")
    source: str = Field(description="The regulation or practice the rule comes from.")
    opened_at: datetime
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_note: str | None
    silenced_until: datetime | None
    silence_reason: str | None
    evidence: dict[str, Any]
    resolution: dict[str, Any]

    _parse = field_validator("evidence", "resolution", mode="before")(_json)


class FlagChangeRead(BaseModel):
    """One row of a flag's history."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    change: str
    by: str
    detail: dict[str, Any]

    _parse = field_validator("detail", mode="before")(_json)


class AckRequest(BaseModel):
    """Acknowledge a flag: a person has seen it."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=500)


class SilenceRequest(BaseModel):
    """Silence a flag's events for this account until ``until``."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)
    until: IsoDatetime = Field(description="ISO 8601 with a time zone, in the future.")
