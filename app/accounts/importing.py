"""Import a registry sheet: parse it within the limits, then check and upsert its rows a chunk
at a time, reporting each bad row by line and column.

Shared by the API upload and `liveness accounts import`. Parsing a sheet and validating its
rows is CPU work of seconds for a large one; both run in worker threads of this module's pool
(two at most in a process), so the event loop keeps answering while they do. The parsed rows
are kept as plain strings (``SheetRow``) and validated a chunk at a time just before they are
upserted: 200,000 validated models held at once made each full garbage collection, which
pauses every thread, walk a million more objects (bench/README.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from app.accounts import service
from app.accounts.schemas import AccountCreate, ImportError_, ImportReport
from app.accounts.service import CheckedRow
from app.accounts.spreadsheet import HEADER_OF, SheetRow, read_rows, to_api_row, upload_name
from app.audit.service import record
from app.auth.service import Principal
from app.config import Settings
from app.egress import EgressGuard
from app.sheets import SheetLimits
from app.text import forbidden_character

__all__ = ["IMPORT_CHUNK", "SheetImport", "merge_reports", "parse_sheet", "sheet_limits"]

# Threads, not processes: rows come back without pickling (~5 s for 200,000), and the loop
# thread still gets the GIL every switch interval (bench/README.md: /healthz while parsing).
_WORKERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sheet-import")
IMPORT_CHUNK = 1000
T = TypeVar("T")


def sheet_limits(settings: Settings) -> SheetLimits:
    """The upload limits the settings give."""
    return SheetLimits(
        max_rows=settings.import_max_rows,
        max_columns=settings.import_max_columns,
        max_cell_chars=settings.import_max_cell_chars,
        max_unzipped_bytes=settings.import_max_unzipped_bytes,
    )


async def _in_worker(work: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(_WORKERS, work, *args)


def _parse(data: bytes, filename: str, limits: SheetLimits) -> list[SheetRow]:
    _header, rows = read_rows(data, filename, limits)
    return list(rows)


async def parse_sheet(data: bytes, filename: str, limits: SheetLimits) -> list[SheetRow]:
    """The data rows of an uploaded sheet, read in a worker thread within ``limits``; a third
    upload waits for one of the two workers.

    Raises SheetError or SheetTooLarge (app/sheets.py) for a file that cannot be read or
    breaks a limit.
    """
    return await _in_worker(_parse, data, filename, limits)


def _check(cells: tuple[tuple[str, str], ...]) -> CheckedRow:
    bad = [
        {"field": field, "message": reason}
        for field, value in cells
        if (reason := forbidden_character(value))
    ]
    return bad or service.check_row(to_api_row(dict(cells)))


def _check_all(rows: Sequence[SheetRow]) -> list[CheckedRow]:
    return [_check(cells) for _line, cells in rows]


def _column(field: str) -> str:
    return HEADER_OF.get(field.split(".")[0], field)


class SheetImport:
    """One sheet's import, fed a chunk of rows at a time: it remembers the line of each
    platform and handle, so a row repeating an earlier one is reported as such even when a
    chunk before created that account."""

    def __init__(
        self, principal: Principal, *, egress: EgressGuard, dry_run: bool, file_name: str = ""
    ) -> None:
        self.principal = principal
        self.egress = egress
        self.dry_run = dry_run
        self.target = f"file:{upload_name(file_name)}"
        self._first: dict[tuple[str, str], int] = {}

    def _repeats_refused(self, rows: Sequence[SheetRow], checked: list[CheckedRow]) -> None:
        for index, ((line, _cells), data) in enumerate(zip(rows, checked, strict=True)):
            if not isinstance(data, AccountCreate):
                continue
            key = (str(data.platform), data.handle)
            if key in self._first:
                message = f"the same platform and handle as line {self._first[key]}"
                checked[index] = [{"field": "handle", "message": message}]
            else:
                self._first[key] = line

    async def chunk(self, session: AsyncSession, rows: Sequence[SheetRow]) -> ImportReport:
        """Check ``rows`` in a worker thread, upsert the valid ones in ``session`` and report
        each bad row by line and column; unless a dry run, with an audit row of the chunk's
        figures (the API and the CLI import alike)."""
        checked = await _in_worker(_check_all, rows)
        self._repeats_refused(rows, checked)
        outcomes = await service.upsert_checked(
            session, checked, self.principal, egress=self.egress, dry_run=self.dry_run
        )
        counts = {"created": 0, "updated": 0, "unchanged": 0, "error": 0}
        errors: list[ImportError_] = []
        for (line, _cells), outcome in zip(rows, outcomes, strict=True):
            counts[outcome.status] += 1
            for error in outcome.errors or []:
                errors.append(
                    ImportError_(line=line, column=_column(error["field"]), reason=error["message"])
                )
        report = ImportReport(
            dry_run=self.dry_run,
            total=len(rows),
            created=counts["created"],
            updated=counts["updated"],
            unchanged=counts["unchanged"],
            failed=counts["error"],
            errors=errors,
        )
        if not self.dry_run:
            detail = report.model_dump(exclude={"errors"})
            record(session, self.principal, "accounts.import", self.target, detail)
        return report

    async def all(self, session: AsyncSession, rows: list[SheetRow]) -> ImportReport:
        """Every row in ``session``, ``IMPORT_CHUNK`` at a time, so no step holds the event
        loop for long; ``rows`` is emptied as it goes."""
        reports = []
        while rows:
            chunk = rows[:IMPORT_CHUNK]
            del rows[:IMPORT_CHUNK]
            reports.append(await self.chunk(session, chunk))
        return merge_reports(reports, dry_run=self.dry_run)


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
