"""Key management routes (admin only)."""

from __future__ import annotations

from fastapi import APIRouter

from app.audit.service import record
from app.auth import service
from app.auth.models import ApiKey
from app.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, Role
from app.deps import AdminDep, ReadSessionDep, WriteSessionDep
from app.errors import Problem
from app.params import RowId

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


@router.post("", status_code=201, response_model=ApiKeyCreated, summary="Create a key")
async def create_key(
    data: ApiKeyCreate, session: WriteSessionDep, principal: AdminDep
) -> ApiKeyCreated:
    """Create a key; the answer is the only time the key itself is shown."""
    if principal.region_prefix and not (data.region_prefix or "").startswith(
        principal.region_prefix
    ):
        raise Problem(
            403,
            "a region-scoped admin may only create keys inside its own region",
            errors=[{"field": "region_prefix", "message": "outside this key's scope"}],
        )
    row, plain = await service.create_key(
        session, name=data.name, role=Role(data.role), region_prefix=data.region_prefix
    )
    record(
        session,
        principal,
        "key.create",
        f"key:{row.id}",
        {"name": row.name, "role": row.role, "region_prefix": row.region_prefix},
    )
    return ApiKeyCreated.model_validate(
        {**ApiKeyRead.model_validate(row).model_dump(), "key": plain}
    )


@router.get("", response_model=list[ApiKeyRead], summary="List keys")
async def list_keys(session: ReadSessionDep, principal: AdminDep) -> list[ApiKey]:
    """Every key with its role, scope and last use; never the keys themselves."""
    keys = await service.list_keys(session)
    if principal.region_prefix:
        keys = [k for k in keys if (k.region_prefix or "").startswith(principal.region_prefix)]
    return keys


@router.delete("/{key_id}", response_model=ApiKeyRead, summary="Revoke a key")
async def revoke_key(key_id: RowId, session: WriteSessionDep, principal: AdminDep) -> ApiKey:
    """Revoke a key; it stops working at once. Revoking twice is harmless."""
    key = await service.get_key(session, key_id)
    if key is None or (
        principal.region_prefix
        and not (key.region_prefix or "").startswith(principal.region_prefix)
    ):
        raise Problem(404, f"no key with id {key_id}")
    key = await service.revoke_key(session, key)
    record(session, principal, "key.revoke", f"key:{key_id}", {"name": key.name})
    return key
