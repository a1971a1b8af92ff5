"""Untrusted CSV and XLSX files read within limits, and sheets written so any spreadsheet opens
them (DESIGN §12).

A 2.6 MB workbook can unzip to 690 MB and three million rows, and openpyxl's read-only mode
pads every row to the width and height the sheet's ``<dimension>`` claims, so an XLSX is
checked before openpyxl sees it: the declared uncompressed sizes of its members add up to at
most ``max_unzipped_bytes`` (zipfile never inflates a member past its declared size: it stops
and fails the CRC), every member inflates to what it declares, no sheet has more row
elements than the row limit allows, and no XML part has a run of text longer than a cell may
be. Then, reading either format, each row is held to the row,
column and cell-length limits. Reading is plain blocking code; the API runs it in a worker
thread (app/accounts/importing.py).
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet.formula import ArrayFormula

from app.text import spreadsheet_safe

__all__ = [
    "SheetError",
    "SheetLimits",
    "SheetTooLarge",
    "export_text",
    "read_records",
    "restore_text",
    "xlsx_bytes",
    "xlsx_workbook",
]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MIB = 1024 * 1024


class SheetError(ValueError):
    """The file cannot be read as a sheet, or breaks a limit other than its size (422)."""


class SheetTooLarge(SheetError):
    """The file has more rows or unzips to more bytes than the limits allow (413)."""


@dataclass(frozen=True, slots=True)
class SheetLimits:
    """What an uploaded sheet may hold; each limit is a setting (README, Settings)."""

    max_rows: int = 200_000  # below the header
    max_columns: int = 100
    max_cell_chars: int = 32_767  # Excel's own limit for one cell
    max_unzipped_bytes: int = 256 * _MIB


def export_text(text: str) -> str:
    """A cell as exports write it: an apostrophe before what a spreadsheet would run as a
    formula (restored on import), and what a spreadsheet cannot hold replaced by U+FFFD."""
    text = spreadsheet_safe(text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def restore_text(text: str) -> str:
    """An imported cell without the apostrophe ``export_text`` put before a formula start."""
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


def xlsx_bytes(sheet_name: str, rows: Iterable[Sequence[str | int]]) -> bytes:
    """A workbook of one sheet (see ``xlsx_workbook``)."""
    return xlsx_workbook([(sheet_name, rows)])


def xlsx_workbook(sheets: Iterable[tuple[str, Iterable[Sequence[str | int]]]]) -> bytes:
    """A workbook of the named sheets, in order, written in openpyxl's write-only mode (rows
    stream to the file, never held as cells): text cells are strings made safe by
    ``export_text`` (never formulas), numbers stay numbers."""
    workbook = Workbook(write_only=True)
    for sheet_name, rows in sheets:
        sheet = workbook.create_sheet(sheet_name)
        for values in rows:
            row = []
            for value in values:
                cell = WriteOnlyCell(
                    sheet, value=export_text(value) if isinstance(value, str) else value
                )
                if isinstance(value, str):
                    cell.data_type = "s"
                row.append(cell)
            sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def read_records(data: bytes, *, xlsx: bool, limits: SheetLimits) -> Iterator[list[str]]:
    """The rows of an uploaded CSV, or of an XLSX's first sheet, as lists of cell texts.

    Raises SheetTooLarge or SheetError, before the first row for what the file's size or shape
    gives away, else at the first row past a limit.
    """
    records = _xlsx_records(data, limits) if xlsx else _csv_records(data, limits)
    return _within(records, limits)


def _within(records: Iterator[list[str]], limits: SheetLimits) -> Iterator[list[str]]:
    most = limits.max_rows + 1
    for line, record in enumerate(records, start=1):
        if line > most:
            raise SheetTooLarge(_too_many_rows(limits))
        if len(record) > limits.max_columns:
            raise SheetError(
                f"row {line} spans {len(record):,} columns; a sheet may have at most "
                f"{limits.max_columns:,} (LIVENESS_IMPORT_MAX_COLUMNS)"
            )
        for column, cell in enumerate(record, start=1):
            if len(cell) > limits.max_cell_chars:
                raise SheetError(_cell_too_long(limits, f"cell {get_column_letter(column)}{line}"))
        yield record


def _too_many_rows(limits: SheetLimits) -> str:
    return (
        f"the sheet has more than {limits.max_rows:,} rows below its header "
        "(LIVENESS_IMPORT_MAX_ROWS); split it into several files"
    )


def _cell_too_long(limits: SheetLimits, where: str) -> str:
    return (
        f"{where} holds more than {limits.max_cell_chars:,} characters "
        "(LIVENESS_IMPORT_MAX_CELL_CHARS)"
    )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        broken = exc
    # GB18030 reads almost any bytes, so UTF-8 with a few bad bytes would import as mojibake:
    # text whose non-ASCII characters mostly decode as UTF-8 is broken UTF-8, not GBK.
    lenient = data.decode("utf-8", errors="replace")
    replaced = lenient.count("\ufffd")
    if sum(1 for ch in lenient if ord(ch) > 0x7F) > 2 * replaced:
        line = data.count(b"\n", 0, broken.start) + 1
        raise SheetError(
            f"the CSV file is not valid UTF-8: byte 0x{data[broken.start]:02x} on line {line}; "
            "save it again as UTF-8 (or GBK)"
        )
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise SheetError("the CSV file is neither UTF-8 nor GBK text") from None


def _csv_records(data: bytes, limits: SheetLimits) -> Iterator[list[str]]:
    text = _decode(data)
    if "\x00" in text:
        raise SheetError("the CSV file contains binary data")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        # A line break inside a quoted cell is a line ending, whichever system wrote it.
        for record in reader:
            yield [cell.replace("\r\n", "\n").replace("\r", "\n") for cell in record]
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):  # csv's own cap, 131,072 characters
            raise SheetError(_cell_too_long(limits, f"a cell on line {reader.line_num}")) from None
        raise SheetError(f"the CSV file is malformed: {exc}") from exc


def _checked_archive(data: bytes, limits: SheetLimits) -> None:
    """Refuse a workbook that unzips past the limit, lies about its sizes, or holds a sheet
    with more rows than the limit, before openpyxl parses any of it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise SheetError("the file is not a readable XLSX workbook") from exc
    with archive:
        members = archive.infolist()
        unzipped = sum(member.file_size for member in members)
        if unzipped > limits.max_unzipped_bytes:
            raise SheetTooLarge(
                f"the workbook unzips to {unzipped / _MIB:,.0f} MiB, more than the "
                f"{limits.max_unzipped_bytes / _MIB:,.0f} MiB limit "
                "(LIVENESS_IMPORT_MAX_UNZIPPED_BYTES)"
            )
        for member in members:
            _scan(archive, member, limits)


def _scan(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: SheetLimits) -> None:
    """Inflate a member (so its CRC is checked), stopping at the first sign of a limit
    broken: more ``<row`` tags than the row limit allows (exact for what spreadsheet
    programs write; the row loop enforces the limit whatever the file's form), or in an XML
    part a run of text longer than any cell may be. A character takes at most 10 bytes of XML
    ("&#x10FFFF;"), so such a run is a cell past the limit, refused before openpyxl would
    hold it in memory."""
    rows = longest = run = 0
    tail = b""
    longest_allowed = 10 * limits.max_cell_chars if member.filename.endswith(".xml") else None
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(_MIB):
                rows += (tail + chunk).count(b"<row")
                tail = chunk[-3:]  # too short to hold a whole tag: nothing is counted twice
                if rows > limits.max_rows + 1:
                    raise SheetTooLarge(_too_many_rows(limits))
                if longest_allowed is None:
                    continue
                *ended, last = chunk.split(b"<")
                if ended:  # the run carried over from the last chunk ends at the first "<"
                    longest = max(longest, run + len(ended[0]), *map(len, ended[1:]))
                    run = 0
                run += len(last)
                if max(longest, run) > longest_allowed:
                    raise SheetError(_cell_too_long(limits, f"a cell in {member.filename}"))
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError) as exc:
        raise SheetError(f"the workbook is damaged ({member.filename}: {exc})") from None


def _xlsx_records(data: bytes, limits: SheetLimits) -> Iterator[list[str]]:
    _checked_archive(data, limits)
    # data_only=False: a formula cell is read as its formula text, never as a value computed
    # by whoever saved the file (absent when a tool wrote it); it is stored as text and
    # neutralised on export like any other cell starting with "=".
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, LookupError, OSError, ValueError, TypeError, SyntaxError) as exc:
        raise SheetError("the file is not a readable XLSX workbook") from exc
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if not isinstance(sheet, ReadOnlyWorksheet):
            raise SheetError("the workbook has no worksheet")
        # Read-only mode trusts <dimension>: "A1:XFD1048576" pads each row to 16,384 cells
        # and the sheet to a million rows. Without it, a row ends at its last cell.
        sheet.reset_dimensions()
        try:
            for values in sheet.iter_rows(values_only=True):
                yield [_cell_text(v) for v in values]
        except (SyntaxError, ValueError, LookupError, TypeError, zipfile.BadZipFile) as exc:
            # SyntaxError: xml.etree's ParseError; LookupError: a shared string that is not
            # there. The workbook passed the checks above but its sheet cannot be read.
            raise SheetError(f"the workbook's first sheet cannot be read: {exc}") from None
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, ArrayFormula):
        return str(value.text)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
