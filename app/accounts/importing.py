"""Import a registry sheet: parse and check every row, upsert the valid ones, report the rest.

Shared by the API upload and `liveness accounts import`, which feeds the rows in chunks to show
progress. Reading and validating a sheet is CPU work of seconds for a large one, so the API
runs it (``read_sheet``) in a worker thread of its own pool, two at most in a process, and the
event loop keeps answering meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from app.accounts import service
from app.accounts.schemas import ImportError_, ImportReport
from app.accounts.service import CheckedRow
from app.accounts.spreadsheet import HEADER_OF, read_rows, to_api_row
from app.auth.service import Principal
from app.config import Settings
from app.sheets import SheetLimits
from app.text import forbidden_character

__all__ = [
    "CheckedLine",
    "check_sheet",
    "import_chunk",
    "merge_reports",
    "read_sheet",
    "sheet_limits",
]

# Threads, not processes: rows come back without pickling (~5 s for 200,000), and the loop
# thread still gets the GIL every switch interval (bench/README.md: /healthz while parsing).
_READERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sheet-reader")


@dataclass(frozen=True, slots=True)
class CheckedLine:
    """One data row of a sheet: its spreadsheet row number and the row checked."""

    line: int
    row: CheckedRow


def sheet_limits(settings: Settings) -> SheetLimits:
    """The upload limits the settings give."""
    return SheetLimits(
        max_rows=settings.import_max_rows,
        max_columns=settings.import_max_columns,
        max_cell_chars=settings.import_max_cell_chars,
        max_unzipped_bytes=settings.import_max_unzipped_bytes,
    )


def _check(cells: dict[str, str]) -> CheckedRow:
    bad = [
        {"field": field, "message": reason}
        for field, value in cells.items()
        if (reason := forbidden_character(value))
    ]
    return bad or service.check_row(to_api_row(cells))


def check_sheet(data: bytes, filename: str, limits: SheetLimits) -> list[CheckedLine]:
    """Parse an uploaded sheet within ``limits`` and check every data row (blocking).

    Raises SheetError or SheetTooLarge (app/sheets.py) for a file that cannot be read or
    breaks a limit.
    """
    _header, rows = read_rows(data, filename, limits)
    return [CheckedLine(row.line, _check(row.cells)) for row in rows]


async def read_sheet(data: bytes, filename: str, limits: SheetLimits) -> list[CheckedLine]:
    """``check_sheet`` in a worker thread; a third upload waits for one of the two."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_READERS, check_sheet, data, filename, limits)


def _column(field: str) -> str:
    return HEADER_OF.get(field.split(".")[0], field)


async def import_chunk(
    session: AsyncSession, rows: Sequence[CheckedLine], principal: Principal, *, dry_run: bool
) -> ImportReport:
    """Upsert checked sheet rows and report each bad row by line and column."""
    outcomes = await service.upsert_checked(
        session, [r.row for r in rows], principal, dry_run=dry_run
    )
    counts = {"created": 0, "updated": 0, "unchanged": 0, "error": 0}
    errors: list[ImportError_] = []
    for row, outcome in zip(rows, outcomes, strict=True):
        counts[outcome.status] += 1
        for error in outcome.errors or []:
            errors.append(
                ImportError_(line=row.line, column=_column(error["field"]), reason=error["message"])
            )
    return ImportReport(
        dry_run=dry_run,
        total=len(rows),
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
