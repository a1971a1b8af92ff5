"""API shapes for keys."""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.params import REGION_PREFIX_PATTERN

__all__ = ["ApiKeyCreate", "ApiKeyCreated", "ApiKeyRead", "Role"]


class Role(enum.StrEnum):
    """What a key may do: viewer reads, operator also writes accounts, admin does everything."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return {"viewer": 0, "operator": 1, "admin": 2}[self.value]


class ApiKeyCreate(BaseModel):
    """A request for a new key."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    role: Role
    region_prefix: str | None = Field(
        default=None,
        pattern=REGION_PREFIX_PATTERN,
        description="Limit the key to accounts whose region code starts with these digits.",
    )


class ApiKeyRead(BaseModel):
    """A key as listed: never the key itself."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    role: Role
    region_prefix: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    """The answer to a create: the only time the key is shown."""

    key: str
