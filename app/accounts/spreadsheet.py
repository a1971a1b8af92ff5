"""CSV and XLSX with the Chinese column headers a supervisor's spreadsheet uses.

An export re-imports unchanged: values are written with the same Chinese labels the import
reads, and cells that a spreadsheet would run as a formula are prefixed with an apostrophe on
export and restored on import.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import PureWindowsPath
from typing import Any

from app.accounts.models import Account
from app.sheets import SheetError, SheetLimits, export_text, read_records, restore_text, xlsx_bytes

__all__ = [
    "COLUMNS",
    "SheetRow",
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

_TAG_SEPARATORS = ("，", "；", ";", "、")


# One data row: its spreadsheet row number and its (field, text) cells. Tuples of strings
# only, which the garbage collector stops tracking: a sheet of 200,000 rows held between
# parsing and upserting adds nothing to each full collection (which pauses every thread, the
# event loop's too), where validated models added five objects a row (bench/README.md).
SheetRow = tuple[int, tuple[tuple[str, str], ...]]


def _export_cells(account: Account) -> list[str]:
    cells = []
    for _header, field in COLUMNS:
        if field == "tags":
            value = ",".join(account.tag_list)
        else:
            raw = getattr(account, field)
            value = "" if raw is None else str(raw)
            value = _LABELS.get(field, {}).get(value, value)
        cells.append(value)
    return cells


def write_csv(accounts: Iterable[Account]) -> Iterator[str]:
    """CSV text chunks, UTF-8 with a BOM so Excel shows Chinese correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([h for h, _ in COLUMNS])
    for account in accounts:
        writer.writerow([export_text(cell) for cell in _export_cells(account)])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_xlsx(accounts: Iterable[Account]) -> bytes:
    """An XLSX workbook with one sheet; every cell is text, never a formula."""
    return xlsx_bytes("账号", [[h for h, _ in COLUMNS], *(_export_cells(a) for a in accounts)])


def upload_name(filename: str | None) -> str:
    """What the audit log records of an uploaded file's name: its last component without
    control or format characters (NUL, bidi overrides). The name only tells CSV from XLSX;
    it is never used as a path."""
    base = PureWindowsPath(filename or "").name  # splits on forward and back slashes
    return "".join(ch for ch in base if unicodedata.category(ch) not in ("Cc", "Cf"))[:100]


def read_rows(
    data: bytes, filename: str, limits: SheetLimits
) -> tuple[list[str], Iterator[SheetRow]]:
    """Parse an uploaded CSV or XLSX file: its header and an iterator of data rows.

    Raises SheetError (app/sheets.py) when the type, header or required columns are wrong or
    the file breaks a limit.
    """
    is_xlsx = filename.lower().endswith(".xlsx") or data[:2] == b"PK"
    records = read_records(data, xlsx=is_xlsx, limits=limits)
    header: list[str] | None = None
    header_line = 0
    for raw_header in records:
        header_line += 1
        if any(cell.strip() for cell in raw_header):
            header = [cell.strip() for cell in raw_header]
            break
    if header is None:
        raise SheetError("the file is empty: it needs a header row")
    fields = [_FIELD_OF.get(h) for h in header]
    missing = [HEADER_OF[f] for f in REQUIRED if f not in fields]
    if missing:
        raise SheetError(f"missing column(s): {', '.join(missing)}")
    return header, _data_rows(records, fields, first_line=header_line + 1)


def _data_rows(
    records: Iterator[list[str]], fields: list[str | None], *, first_line: int
) -> Iterator[SheetRow]:
    for line, record in enumerate(records, start=first_line):
        if not any(cell.strip() for cell in record):
            continue
        cells = tuple(
            (field, restore_text(value.strip()))
            for field, value in zip(fields, record, strict=False)
            if field is not None
        )
        yield line, cells


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
