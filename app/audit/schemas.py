"""API shapes for the audit log."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

__all__ = ["AuditEntry"]


class AuditEntry(BaseModel):
    """One write: who (key name), what (action), to what (target), when, and details."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    key_id: int | None
    key_name: str
    action: str
    target: str
    detail: str
