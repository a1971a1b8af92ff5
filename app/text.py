"""Which characters stored text may hold: the one rule every write path and export applies.

Text the registry stores must be text a spreadsheet can hold, since every list ends up in one.
Input is refused when it holds a control character (Unicode category Cc) other than tab and
line feed, a lone surrogate, or the noncharacters U+FFFE and U+FFFF: none belongs in a name or
a note, NUL cannot be stored by PostgreSQL, and the rest make an XLSX export fail. Exports
replace what XML 1.0 cannot hold with U+FFFD, so text stored before the rule (or written to
the database by hand) never makes a sheet fail.
"""

from __future__ import annotations

import re

__all__ = ["REPLACEMENT", "forbidden_character", "shown", "spreadsheet_safe"]

# Category Cc is exactly U+0000-U+001F and U+007F-U+009F (tests/test_text.py checks it
# against unicodedata); tab (U+0009) and line feed (U+000A) are allowed.
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# What an XML 1.0 document cannot carry (its Char production); carriage return can.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"
# The C0 controls' abbreviations (ISO 6429), so a message says "U+0000 NUL", not just a number.
_C0 = (
    "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "HT", "LF", "VT", "FF", "CR",
    "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB",
    "ESC", "FS", "GS", "RS", "US",
)  # fmt: skip


def forbidden_character(text: str) -> str | None:
    """Why ``text`` may not be stored, naming its first forbidden character, or None."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    char = found.group()
    code = f"U+{ord(char):04X}"
    if "\ud800" <= char <= "\udfff":
        what = f"a lone surrogate ({code})"
    elif char in "\ufffe\uffff":
        what = f"a noncharacter ({code})"
    else:
        name = _C0[ord(char)] if ord(char) < 0x20 else "DEL" if char == "\x7f" else "C1"
        what = f"a control character ({code} {name})"
    return f"contains {what}; only tab and newline are allowed"


def shown(text: str) -> str:
    """``text`` for a message: each forbidden character written as its \\u escape."""
    return _FORBIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def spreadsheet_safe(text: str) -> str:
    """``text`` with every character a spreadsheet cannot hold replaced by U+FFFD."""
    return _UNWRITABLE.sub(REPLACEMENT, text)
