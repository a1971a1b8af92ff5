"""Audit log route (admin only)."""

from __future__ import annotations

from fastapi import APIRouter

from app.audit import service
from app.audit.schemas import AuditEntry
from app.auth import service as auth_service
from app.deps import AdminDep, ReadSessionDep
from app.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=Page[AuditEntry], summary="Read the audit log")
async def list_audit(
    session: ReadSessionDep,
    principal: AdminDep,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[AuditEntry]:
    """Every write, newest first. A region-scoped admin sees the writes of keys inside its
    region, which can only have written there; other writes may name other regions' rows."""
    scope = principal.region_prefix
    rows = await service.list_entries(
        session,
        limit=limit + 1,
        before_id=decode_cursor(cursor),
        key_ids=None if scope is None else await auth_service.key_ids_within(session, scope),
    )
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(page[-1].id) if more and page[-1].id is not None else None
    return Page(items=[AuditEntry.model_validate(r) for r in page], next_cursor=next_cursor)
