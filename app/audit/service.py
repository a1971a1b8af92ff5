"""Record and read the audit log. Writers call ``record`` inside their own transaction, so the
log entry lands exactly when the change does."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.audit.models import AuditLog
from app.auth.service import Principal

__all__ = ["list_entries", "record"]


def record(
    session: AsyncSession,
    principal: Principal,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one audit entry for a write by ``principal``; committed with the caller's change."""
    session.add(
        AuditLog(
            key_id=principal.key_id,
            key_name=principal.name,
            action=action,
            target=target,
            detail=json.dumps(detail or {}, ensure_ascii=False, default=str),
        )
    )


async def list_entries(
    session: AsyncSession,
    *,
    limit: int,
    before_id: int | None = None,
    key_ids: Collection[int] | None = None,
) -> list[AuditLog]:
    """Audit entries, newest first, paged by id; only those written by ``key_ids`` if given."""
    query = select(AuditLog).order_by(col(AuditLog.id).desc()).limit(limit)
    if before_id is not None:
        query = query.where(col(AuditLog.id) < before_id)
    if key_ids is not None:
        query = query.where(col(AuditLog.key_id).in_(key_ids))
    return list((await session.exec(query)).all())
