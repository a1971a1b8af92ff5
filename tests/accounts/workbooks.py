"""Hostile and large workbooks, built in memory: the sheet XML is streamed into its zip member,
so a sheet of millions of rows never exists as one string. Used by the upload tests and by
bench/import_limits.py."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Iterable, Iterator
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from app.accounts.spreadsheet import COLUMNS

SHEET = "xl/worksheets/sheet1.xml"
MAIN = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_HEAD = b'<worksheet xmlns="' + MAIN + b'">'
HEADER = ["账号名称", "平台", "账号ID", "行政区划代码"]


def _skeleton() -> dict[str, bytes]:
    """The members of a workbook openpyxl wrote, but for its sheet."""
    workbook = Workbook()
    out = io.BytesIO()
    workbook.save(out)
    with zipfile.ZipFile(out) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name != SHEET}


def row_xml(line: int, cells: Iterable[str], first_column: int = 1) -> bytes:
    """One ``<row>`` of inline-string cells starting at ``first_column``."""
    parts = [f'<row r="{line}">']
    for column, text in enumerate(cells, start=first_column):
        ref = f"{get_column_letter(column)}{line}"
        parts.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(text)}</t></is></c>')
    parts.append("</row>")
    return "".join(parts).encode()


def workbook(
    rows: Iterable[bytes], *, dimension: str | None = None, level: int = 6, head: bytes = _HEAD
) -> bytes:
    """An XLSX whose first sheet holds ``rows`` (``<row>`` elements), streamed into the zip
    after ``head`` (the ``<worksheet>`` start tag)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in _skeleton().items():
            archive.writestr(name, data)
        with archive.open(SHEET, "w") as sheet:
            sheet.write(head)
            if dimension is not None:
                sheet.write(f'<dimension ref="{dimension}"/>'.encode())
            sheet.write(b"<sheetData>")
            buffer = bytearray()
            for row in rows:
                buffer += row
                if len(buffer) > 1 << 20:
                    sheet.write(buffer)
                    buffer.clear()
            sheet.write(bytes(buffer) + b"</sheetData></worksheet>")
    return out.getvalue()


def registry_rows(count: int, *, first_line: int = 2) -> Iterator[bytes]:
    """``count`` valid Weibo accounts as rows under ``HEADER``."""
    for n in range(count):
        cells = [f"账号{n}", "微博", str(1_000_000_000 + n), "220102"]
        yield row_xml(first_line + n, cells)


def many_rows(count: int) -> bytes:
    """A sheet of ``count`` rows of five cells, with no row or cell references (3,000,000:
    the issue's 2.6 MB workbook unzipping to some 690 MB)."""
    cell = '<c t="inlineStr"><is><t>{}</t></is></c>'
    row = "<row>" + cell * 5 + "</row>"
    rows = (
        row.format("长春发布", "微博", 1_000_000_000 + n % 10, "220102", "政务发布").encode()
        for n in range(count)
    )
    return workbook([row_xml(1, [*HEADER, "类别"]), *rows], level=9)


def tiny_rows(count: int) -> bytes:
    """A sheet of ``count`` one-cell rows (78 MB unzipped for 3,000,000): within the unzip
    limit, so only the row limit refuses it."""
    return workbook([row_xml(1, HEADER), *[b"<row><c><v>1</v></c></row>"] * count], level=9)


def gap_past_the_row_limit() -> bytes:
    """199,990 one-cell rows and then row 900,000: within the quick count of rows before
    parsing, past the default row limit only at its end, so the row loop has to reach it."""
    rows = [b"<row><c><v>1</v></c></row>"] * 199_990
    last = b'<row r="900000"><c><v>1</v></c></row>'
    return workbook([row_xml(1, HEADER), *rows, last])


def huge_cell(chars: int) -> bytes:
    """One row whose name cell holds ``chars`` characters."""
    return workbook([row_xml(1, HEADER), row_xml(2, ["x" * chars, "微博", "1234567890", "220102"])])


def lying_dimension(rows: int = 2) -> bytes:
    """A small sheet that claims to span A1:XFD1048576."""
    return workbook([row_xml(1, HEADER), *registry_rows(rows)], dimension="A1:XFD1048576")


def wide(columns: int) -> bytes:
    """A header row of ``columns`` cells."""
    names = [*HEADER, *(f"列{n}" for n in range(len(HEADER), columns))]
    return workbook([row_xml(1, names)])


def lying_sizes(data: bytes, member: str, declared: int) -> bytes:
    """``data`` (a zip) with ``member``'s uncompressed size rewritten to ``declared`` in its
    local header and its central directory entry: the archive says it unzips to less."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local = archive.getinfo(member).header_offset
    patched = bytearray(data)
    central = patched.index(b"PK\x01\x02")
    name = member.encode()
    while patched[central + 46 : central + 46 + len(name)] != name:
        central = patched.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", patched, local + 22, declared)
    struct.pack_into("<I", patched, central + 24, declared)
    return bytes(patched)


def plain_workbook(count: int) -> bytes:
    """A workbook of ``count`` registry rows in all eleven columns, as openpyxl writes one."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("账号")
    sheet.append([h for h, _ in COLUMNS])
    for n in range(count):
        place = ["220102", "长春市南关区", "办公室", "市级", "政务发布", "正常", "重点,试点"]
        sheet.append([f"账号{n}", "微博", str(1_000_000_000 + n), f"单位{n % 300}", *place])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
