"""Registry routes: thin handlers over accounts.service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import Response, StreamingResponse

from app.accounts import service
from app.accounts.importing import SheetImport, parse_sheet, sheet_limits
from app.accounts.models import Account
from app.accounts.schemas import (
    AccountCreate,
    AccountDetail,
    AccountRead,
    AccountStatus,
    AccountUpdate,
    BulkRequest,
    BulkResult,
    BulkRow,
    ImportReport,
    OpenFlag,
    Platform,
)
from app.accounts.spreadsheet import write_csv, write_xlsx
from app.audit.service import record
from app.deps import OperatorDep, ReadSessionDep, SettingsDep, ViewerDep, WriteSessionDep
from app.egress import EgressGuard
from app.errors import Problem
from app.flags import service as flags_service
from app.flags.policy import FLAG_LABELS
from app.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from app.params import RegionPrefixQuery, RowId
from app.sheets import SheetError, SheetTooLarge

router = APIRouter(prefix="/api/v1", tags=["accounts"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _filters(
    platform: Annotated[Platform | None, Query()] = None,
    region_code: RegionPrefixQuery = None,
    organization: Annotated[str | None, Query(max_length=200)] = None,
    department: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[AccountStatus | None, Query()] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    q: Annotated[
        str | None, Query(max_length=100, description="Free text in name, handle, organization.")
    ] = None,
) -> service.AccountFilters:
    return service.AccountFilters(
        platform=str(platform) if platform else None,
        region_code=region_code,
        organization=organization,
        department=department,
        status=str(status) if status else None,
        tag=tag,
        q=q,
    )


FiltersDep = Annotated[service.AccountFilters, Depends(_filters)]


def _not_found(account_id: int) -> Problem:
    return Problem(404, f"no account with id {account_id}")


def _conflict(exc: service.HandleTaken) -> Problem:
    if exc.existing_id is None:
        return Problem(
            409,
            service.REGISTERED_ELSEWHERE,
            errors=[{"field": "handle", "message": "registered outside this key's scope"}],
        )
    return Problem(
        409,
        f"an account with this platform and handle already exists (id {exc.existing_id})",
        errors=[{"field": "handle", "message": "already registered"}],
    )


def _invalid(exc: service.InvalidChange) -> Problem:
    return Problem(
        422,
        f"invalid {exc.field}: {exc.message}",
        errors=[{"field": exc.field, "message": exc.message}],
    )


def _outside(principal_prefix: str | None) -> Problem:
    return Problem(
        403,
        f"this key may only write accounts whose region code starts with {principal_prefix}",
        errors=[{"field": "region_code", "message": "outside this key's region scope"}],
    )


@router.get("/accounts", response_model=Page[AccountRead], summary="List accounts")
async def list_accounts(
    session: ReadSessionDep,
    principal: ViewerDep,
    filters: FiltersDep,
    settings: SettingsDep,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[AccountRead]:
    """Accounts in id order, filtered, one page at a time."""
    limit = min(limit, settings.page_size_max)
    rows = await service.list_accounts(
        session,
        filters,
        scope_prefix=principal.region_prefix,
        limit=limit + 1,
        after_id=decode_cursor(cursor),
    )
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(page[-1].id) if more and page[-1].id is not None else None
    return Page(items=[AccountRead.model_validate(a) for a in page], next_cursor=next_cursor)


@router.post("/accounts", status_code=201, response_model=AccountRead, summary="Register one")
async def create_account(
    data: AccountCreate, session: WriteSessionDep, principal: OperatorDep, settings: SettingsDep
) -> Account:
    """Register an account; 409 when its platform and handle are already registered."""
    try:
        account = await service.create_account(
            session, data, principal, egress=EgressGuard.for_monitors(settings)
        )
    except service.InvalidChange as exc:
        raise _invalid(exc) from None
    except service.HandleTaken as exc:
        raise _conflict(exc) from None
    except service.OutOfScope:
        raise _outside(principal.region_prefix) from None
    return account


@router.post("/accounts:bulk", response_model=BulkResult, summary="Upsert many")
async def bulk_upsert(
    body: BulkRequest, session: WriteSessionDep, principal: OperatorDep, settings: SettingsDep
) -> BulkResult:
    """Create or update rows keyed by (platform, handle); each row answers on its own."""
    egress = EgressGuard.for_monitors(settings)
    outcomes = await service.upsert_accounts(session, body.items, principal, egress=egress)
    rows = [
        BulkRow(index=i, status=o.status, id=o.account_id, errors=o.errors)
        for i, o in enumerate(outcomes)
    ]
    result = BulkResult(
        created=sum(r.status == "created" for r in rows),
        updated=sum(r.status == "updated" for r in rows),
        unchanged=sum(r.status == "unchanged" for r in rows),
        failed=sum(r.status == "error" for r in rows),
        rows=rows,
    )
    record(
        session,
        principal,
        "accounts.bulk",
        f"rows:{len(rows)}",
        result.model_dump(exclude={"rows"}),
    )
    return result


async def _read_upload(file: UploadFile, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await file.read(256 * 1024):
        size += len(chunk)
        if size > limit:
            raise Problem(
                413,
                f"the file is larger than the {limit // (1024 * 1024)} MiB limit",
                errors=[{"field": "file", "message": "too large"}],
            )
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/accounts:import", response_model=ImportReport, summary="Import CSV or XLSX")
async def import_accounts(
    session: WriteSessionDep,
    principal: OperatorDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="A CSV or XLSX sheet with Chinese headers.")],
    dry_run: Annotated[bool, Query(description="Validate only; write nothing.")] = False,
) -> ImportReport:
    """Upsert the valid rows of a sheet and report every bad row by line and column; 413 or
    422 naming the limit for a sheet past one (rows, columns, cell length, unzipped size)."""
    data = await _read_upload(file, settings.max_upload_bytes)
    try:
        rows = await parse_sheet(data, file.filename or "", sheet_limits(settings))
    except SheetError as exc:
        status = 413 if isinstance(exc, SheetTooLarge) else 422
        raise Problem(status, str(exc), errors=[{"field": "file", "message": str(exc)}]) from None
    egress = EgressGuard.for_monitors(settings)
    sheet = SheetImport(principal, egress=egress, dry_run=dry_run, file_name=file.filename or "")
    return await sheet.all(session, rows)


@router.get(
    "/accounts:export",
    summary="Export CSV or XLSX",
    responses={200: {"content": {"text/csv": {}, XLSX: {}}}},
)
async def export_accounts(
    session: ReadSessionDep,
    principal: ViewerDep,
    filters: FiltersDep,
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
) -> Response:
    """The filtered registry as a sheet with Chinese headers; it re-imports unchanged."""
    accounts = [
        a
        async for a in service.iter_accounts(session, filters, scope_prefix=principal.region_prefix)
    ]
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    filename = f"accounts-{stamp}.{format}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if format == "xlsx":
        return Response(write_xlsx(accounts), media_type=XLSX, headers=disposition)
    return StreamingResponse(
        write_csv(accounts), media_type="text/csv; charset=utf-8", headers=disposition
    )


@router.get("/accounts/{account_id}", response_model=AccountDetail, summary="Get one")
async def get_account(
    account_id: RowId, session: ReadSessionDep, principal: ViewerDep
) -> AccountDetail:
    """One account with its open flags and whether it passes inspection (合格); 404 when it
    does not exist or lies outside the key's region."""
    account = await service.get_account(session, account_id, scope_prefix=principal.region_prefix)
    if account is None:
        raise _not_found(account_id)
    flags = await flags_service.open_flags(session, account_id)
    open_flags = [
        OpenFlag(
            id=f.id or 0,
            code=f.code,
            label_zh=FLAG_LABELS[f.code],
            veto=f.veto,
            opened_at=f.opened_at,
        )
        for f in sorted(flags.values(), key=lambda f: f.opened_at)
    ]
    return AccountDetail.model_validate(
        {
            **AccountRead.model_validate(account).model_dump(),
            "open_flags": open_flags,
            "passes_inspection": not any(f.veto for f in flags.values()),
        }
    )


@router.patch("/accounts/{account_id}", response_model=AccountRead, summary="Change one")
async def update_account(
    account_id: RowId,
    patch: AccountUpdate,
    session: WriteSessionDep,
    principal: OperatorDep,
    settings: SettingsDep,
) -> Account:
    """Change the fields sent; the handle is re-checked when it or the platform changes."""
    account = await service.get_account(session, account_id, scope_prefix=principal.region_prefix)
    if account is None:
        raise _not_found(account_id)
    try:
        account = await service.update_account(
            session, account, patch, principal, egress=EgressGuard.for_monitors(settings)
        )
    except service.InvalidChange as exc:
        raise _invalid(exc) from None
    except service.HandleTaken as exc:
        raise _conflict(exc) from None
    except service.OutOfScope:
        raise _outside(principal.region_prefix) from None
    return account


@router.delete("/accounts/{account_id}", response_model=AccountRead, summary="Archive one")
async def archive_account(
    account_id: RowId, session: WriteSessionDep, principal: OperatorDep
) -> Account:
    """Soft delete: the account is kept with status archived and is no longer checked."""
    account = await service.get_account(session, account_id, scope_prefix=principal.region_prefix)
    if account is None:
        raise _not_found(account_id)
    return await service.archive_account(session, account, principal)
