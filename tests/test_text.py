"""The one rule for stored text (app/text.py) against Unicode's own tables and openpyxl."""

from __future__ import annotations

import io
import sys
import unicodedata

from openpyxl import load_workbook

from app.sheets import xlsx_bytes
from app.text import REPLACEMENT, forbidden_character, spreadsheet_safe


def test_the_rule_is_category_cc_but_tab_and_newline_plus_surrogates_and_ffff() -> None:
    refused = {c for c in map(chr, range(sys.maxunicode + 1)) if forbidden_character(c)}
    expected = {
        c
        for c in map(chr, range(sys.maxunicode + 1))
        if (unicodedata.category(c) == "Cc" and c not in "\t\n")
        or unicodedata.category(c) == "Cs"
        or c in "\ufffe\uffff"
    }
    assert refused == expected


def test_every_character_is_written_to_a_sheet_as_itself_or_u_fffd() -> None:
    # openpyxl raised IllegalCharacterError for a control character and wrote a lone
    # surrogate that Excel then refused to open.
    text = "".join(map(chr, range(0x10000)))
    cells = ["x" + text[start : start + 4096] for start in range(0, len(text), 4096)]
    sheet = load_workbook(io.BytesIO(xlsx_bytes("s", [cells]))).worksheets[0]
    # Without lxml openpyxl reads a carriage return back as a line feed, with lxml as itself.
    read = [str(cell.value).replace("\r", "\n") for cell in next(sheet.iter_rows())]
    assert read == [spreadsheet_safe(cell).replace("\r", "\n") for cell in cells]
    replaced = "".join(read).count(REPLACEMENT)
    assert replaced == 1 + 29 + 2048 + 2  # U+FFFD, C0 less tab/LF/CR, D800-DFFF, FFFE-FFFF
