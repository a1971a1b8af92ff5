"""Import a registry sheet: parse, validate each row, upsert the valid ones, report the rest.

Shared by the API upload and `liveness accounts import`, which feeds it in chunks to show
progress on large files.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel.ext.asyncio.session import AsyncSession

from app.accounts import service
from app.accounts.schemas import ImportError_, ImportReport
from app.accounts.spreadsheet import HEADER_OF, SheetRow, to_api_row
from app.auth.service import Principal
from app.egress import EgressGuard

__all__ = ["import_chunk", "merge_reports"]


def _column(field: str) -> str:
    return HEADER_OF.get(field.split(".")[0], field)


async def import_chunk(
    session: AsyncSession,
    rows: Iterable[SheetRow],
    principal: Principal,
    *,
    egress: EgressGuard,
    dry_run: bool,
) -> ImportReport:
    """Upsert one chunk of sheet rows and report each bad row by line and column."""
    sheet_rows = list(rows)
    api_rows = [to_api_row(r.cells) for r in sheet_rows]
    outcomes = await service.upsert_accounts(
        session, api_rows, principal, egress=egress, dry_run=dry_run
    )
    counts = {"created": 0, "updated": 0, "unchanged": 0, "error": 0}
    errors: list[ImportError_] = []
    for row, outcome in zip(sheet_rows, outcomes, strict=True):
        counts[outcome.status] += 1
        for error in outcome.errors or []:
            errors.append(
                ImportError_(line=row.line, column=_column(error["field"]), reason=error["message"])
            )
    return ImportReport(
        dry_run=dry_run,
        total=len(sheet_rows),
        created=counts["created"],
        updated=counts["updated"],
        unchanged=counts["unchanged"],
        failed=counts["error"],
        errors=errors,
    )


def merge_reports(reports: Iterable[ImportReport], *, dry_run: bool) -> ImportReport:
    """Add up the reports of several chunks."""
    total = ImportReport(
        dry_run=dry_run, total=0, created=0, updated=0, unchanged=0, failed=0, errors=[]
    )
    for report in reports:
        total.total += report.total
        total.created += report.created
        total.updated += report.updated
        total.unchanged += report.unchanged
        total.failed += report.failed
        total.errors.extend(report.errors)
    return total
