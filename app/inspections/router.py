"""Inspection routes: thin handlers over inspections.service, with the XLSX and DOCX exports."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import UTC
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic_core import to_json

from app.db import utcnow
from app.deps import AdminDep, OperatorDep, ReadSessionDep, SettingsDep, ViewerDep, WriteSessionDep
from app.inspections import bulletin, export, service
from app.inspections.models import Inspection
from app.inspections.schemas import (
    InspectionCreate,
    InspectionList,
    InspectionResult,
    InspectionRow,
)
from app.pagination import CursorQuery, LimitQuery, decode_cursor, encode_cursor
from app.params import RowId

router = APIRouter(prefix="/api/v1", tags=["inspections"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@router.post(
    "/inspections", status_code=201, response_model=InspectionRow, summary="Take an inspection"
)
async def create_inspection(
    body: InspectionCreate, session: WriteSessionDep, principal: OperatorDep
) -> Response:
    """Freeze, in one transaction, every account of the scope (or a reproducible sample of
    it) as of ``at``: registry fields, verdict, open flags with evidence, last post and check.
    The answer is the list row; ``GET /api/v1/inspections/{id}`` gives the whole result."""
    taken = await service.take(
        session, body, principal, now=utcnow(), seed=secrets.randbelow(2**63)
    )
    row = service.row_data(taken.inspection)
    location = f"/api/v1/inspections/{taken.inspection.id}"
    return Response(
        to_json(row), status_code=201, media_type="application/json", headers={"Location": location}
    )


@router.get("/inspections", response_model=InspectionList, summary="List inspections")
async def list_inspections(
    session: ReadSessionDep,
    principal: ViewerDep,
    settings: SettingsDep,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Response:
    """Inspections inside the key's region, newest first, with their headline figures."""
    limit = min(limit, settings.page_size_max)
    rows = await service.list_page(
        session, principal.region_prefix, limit=limit + 1, before_id=decode_cursor(cursor)
    )
    page = rows[:limit]
    more = len(rows) > limit and page[-1].id is not None
    body = {
        "items": [service.row_data(i) for i in page],
        "next_cursor": encode_cursor(page[-1].id or 0) if more else None,
    }
    return Response(to_json(body), media_type="application/json")


async def _result(session: ReadSessionDep, inspection_id: int, scope: str | None) -> dict[str, Any]:
    inspection = await service.get(session, inspection_id, scope)
    return await service.result(session, inspection)


async def _off_loop(build: Callable[[], bytes]) -> bytes:
    # Tens of thousands of frozen accounts take a second or more to render: a worker thread
    # lets the event loop go on answering meanwhile.
    return await asyncio.to_thread(build)


@router.get(
    "/inspections/{inspection_id}",
    response_model=InspectionResult,
    summary="One inspection, whole",
)
async def get_inspection(
    inspection_id: RowId, session: ReadSessionDep, principal: ViewerDep
) -> Response:
    """The frozen result and the bulletin's figures; the same bytes on every read."""
    result = await _result(session, inspection_id, principal.region_prefix)
    return Response(await _off_loop(lambda: to_json(result)), media_type="application/json")


def _attachment(inspection: dict[str, Any], suffix: str) -> dict[str, str]:
    stamp = inspection["at"].astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"inspection-{inspection['id']}-{stamp}.{suffix}"
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get(
    "/inspections/{inspection_id}/export",
    summary="The inspection as a workbook",
    responses={200: {"content": {XLSX: {}}}},
)
async def export_inspection(
    inspection_id: RowId,
    session: ReadSessionDep,
    principal: ViewerDep,
    format: Annotated[Literal["xlsx"], Query(description="xlsx (the only format).")] = "xlsx",
) -> Response:
    """One workbook: 总体情况, a sheet per grouping, 合格率100%名单, 问题账号名单 (and 整改情况
    against a previous inspection), with Chinese headers."""
    result = await _result(session, inspection_id, principal.region_prefix)
    data = await _off_loop(lambda: export.to_xlsx(result))
    return Response(data, media_type=XLSX, headers=_attachment(result, format))


@router.get(
    "/inspections/{inspection_id}/bulletin.docx",
    summary="A draft of the bulletin (通报)",
    responses={200: {"content": {DOCX: {}}}},
)
async def inspection_bulletin(
    inspection_id: RowId, session: ReadSessionDep, principal: ViewerDep
) -> Response:
    """A DOCX draft of the 通报 for the office to edit: the figures in sentences, the
    problems by kind, the annexes as tables."""
    result = await _result(session, inspection_id, principal.region_prefix)
    data = await _off_loop(lambda: bulletin.to_docx(result))
    return Response(data, media_type=DOCX, headers=_attachment(result, "docx"))


@router.delete(
    "/inspections/{inspection_id}", status_code=204, summary="Delete an inspection (admin)"
)
async def delete_inspection(
    inspection_id: RowId, session: WriteSessionDep, principal: AdminDep
) -> None:
    """Delete an inspection and what it froze, audited; 409 while a later inspection of the
    same scope measures its rectification against it."""
    inspection: Inspection = await service.get(session, inspection_id, principal.region_prefix)
    await service.delete(session, inspection, principal)
