"""CSV and XLSX with the Chinese column headers a supervisor's spreadsheet uses.

An export re-imports unchanged: values are written with the same Chinese labels the import
reads, and cells that a spreadsheet would run as a formula are prefixed with an apostrophe on
export and restored on import.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PureWindowsPath
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet.formula import ArrayFormula

from app.accounts.models import Account

__all__ = [
    "COLUMNS",
    "SheetRow",
    "SpreadsheetError",
    "read_rows",
    "to_api_row",
    "upload_name",
    "write_csv",
    "write_xlsx",
]

# (header, field), in the order a supervisor's sheet lists them.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("账号名称", "name"),
    ("平台", "platform"),
    ("账号ID", "handle"),
    ("主办单位", "organization"),
    ("行政区划代码", "region_code"),
    ("所属地区", "region_name"),
    ("部门", "department"),
    ("层级", "level"),
    ("类别", "category"),
    ("状态", "status"),
    ("标签", "tags"),
)
HEADER_OF = {field: header for header, field in COLUMNS}
_FIELD_OF = {header: field for header, field in COLUMNS} | {f: f for _, f in COLUMNS}
REQUIRED = ("platform", "handle", "name", "region_code")

PLATFORM_LABELS = {
    "weibo": "微博",
    "wechat": "微信公众号",
    "douyin": "抖音",
    "appstore": "苹果应用商店",
    "huawei": "华为应用市场",
    "xiaomi": "小米应用商店",
    "yyb": "应用宝",
    "rss": "RSS订阅",
    "website": "网站",
}
LEVEL_LABELS = {
    "national": "国家级",
    "provincial": "省级",
    "municipal": "市级",
    "county": "县级",
    "township": "乡镇级",
}
STATUS_LABELS = {"active": "正常", "archived": "已归档", "closed": "已关停"}
_LABELS = {"platform": PLATFORM_LABELS, "level": LEVEL_LABELS, "status": STATUS_LABELS}
_CODES = {field: {v: k for k, v in labels.items()} for field, labels in _LABELS.items()}
_CODES["platform"] |= {"微信": "wechat", "苹果": "appstore", "App Store": "appstore"}

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TAG_SEPARATORS = ("，", "；", ";", "、")


class SpreadsheetError(ValueError):
    """The file cannot be read as a registry sheet (wrong type, no header, missing columns)."""


@dataclass(frozen=True, slots=True)
class SheetRow:
    """One data row: its spreadsheet row number and its cells keyed by field name."""

    line: int
    cells: dict[str, str]


def _neutralise(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def _restore(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


def _export_cells(account: Account) -> list[str]:
    cells = []
    for _header, field in COLUMNS:
        if field == "tags":
            value = ",".join(account.tag_list)
        else:
            raw = getattr(account, field)
            value = "" if raw is None else str(raw)
            value = _LABELS.get(field, {}).get(value, value)
        cells.append(_neutralise(value))
    return cells


def write_csv(accounts: Iterable[Account]) -> Iterator[str]:
    """CSV text chunks, UTF-8 with a BOM so Excel shows Chinese correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([h for h, _ in COLUMNS])
    for account in accounts:
        writer.writerow(_export_cells(account))
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_xlsx(accounts: Iterable[Account]) -> bytes:
    """An XLSX workbook with one sheet; every cell is text, never a formula."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("账号")
    sheet.append([h for h, _ in COLUMNS])
    for account in accounts:
        row = []
        for value in _export_cells(account):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            row.append(cell)
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


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
        raise SpreadsheetError(
            f"the CSV file is not valid UTF-8: byte 0x{data[broken.start]:02x} on line {line}; "
            "save it again as UTF-8 (or GBK)"
        )
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise SpreadsheetError("the CSV file is neither UTF-8 nor GBK text") from None


def _csv_records(data: bytes) -> Iterator[list[str]]:
    text = _decode(data)
    if "\x00" in text:
        raise SpreadsheetError("the CSV file contains binary data")
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error as exc:
        raise SpreadsheetError(f"the CSV file is malformed: {exc}") from exc


def _xlsx_records(data: bytes) -> Iterator[list[str]]:
    # data_only=False: a formula cell is read as its formula text, never as a value computed
    # by whoever saved the file (absent when a tool wrote it); it is stored as text and
    # neutralised on export like any other cell starting with "=".
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise SpreadsheetError("the file is not a readable XLSX workbook") from exc
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_cell_text(v) for v in values]
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


def upload_name(filename: str | None) -> str:
    """What the audit log records of an uploaded file's name: its last component without
    control or format characters (NUL, bidi overrides). The name only tells CSV from XLSX;
    it is never used as a path."""
    base = PureWindowsPath(filename or "").name  # splits on forward and back slashes
    return "".join(ch for ch in base if unicodedata.category(ch) not in ("Cc", "Cf"))[:100]


def read_rows(data: bytes, filename: str) -> tuple[list[str], Iterator[SheetRow]]:
    """Parse an uploaded CSV or XLSX file: its header and an iterator of data rows.

    Raises SpreadsheetError when the type, header or required columns are wrong.
    """
    is_xlsx = filename.lower().endswith(".xlsx") or data[:2] == b"PK"
    records = _xlsx_records(data) if is_xlsx else _csv_records(data)
    header: list[str] | None = None
    header_line = 0
    for raw_header in records:
        header_line += 1
        if any(cell.strip() for cell in raw_header):
            header = [cell.strip() for cell in raw_header]
            break
    if header is None:
        raise SpreadsheetError("the file is empty: it needs a header row")
    fields = [_FIELD_OF.get(h) for h in header]
    missing = [HEADER_OF[f] for f in REQUIRED if f not in fields]
    if missing:
        raise SpreadsheetError(f"missing column(s): {', '.join(missing)}")
    return header, _data_rows(records, fields, first_line=header_line + 1)


def _data_rows(
    records: Iterator[list[str]], fields: list[str | None], *, first_line: int
) -> Iterator[SheetRow]:
    for line, record in enumerate(records, start=first_line):
        if not any(cell.strip() for cell in record):
            continue
        cells = {
            field: _restore(value.strip())
            for field, value in zip(fields, record, strict=False)
            if field is not None
        }
        yield SheetRow(line=line, cells=cells)


def to_api_row(cells: dict[str, str]) -> dict[str, Any]:
    """Turn sheet cells (Chinese labels allowed) into the fields the API validates."""
    row: dict[str, Any] = {}
    for field, value in cells.items():
        if field == "tags":
            for separator in _TAG_SEPARATORS:
                value = value.replace(separator, ",")
            row["tags"] = [t for t in value.split(",") if t.strip()]
        elif field in _CODES:
            if value:
                row[field] = _CODES[field].get(value, value)
            elif field != "level":
                row[field] = value
        else:
            row[field] = value
    return row
