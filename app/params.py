"""Parameter types the routers share: row ids and times, validated before they reach a query."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from annotated_types import Interval
from pydantic import BeforeValidator

__all__ = ["MAX_ID", "IsoDatetime", "RowId"]

# The largest integer both databases bind; SQLite raises OverflowError beyond it.
MAX_ID = 2**63 - 1

RowId = Annotated[int, Interval(ge=1, le=MAX_ID)]
"""A row id in a path or query: a positive 64-bit integer (anything else is a 422)."""

_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _not_a_number(value: object) -> object:
    # Pydantic reads numbers, and strings of digits, as Unix timestamps; the API promises
    # ISO 8601 and says so in its schema (format date-time), so a number is invalid input.
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("a time is ISO 8601 with a zone, e.g. 2026-11-01T00:00:00+08:00")
    return value


IsoDatetime = Annotated[datetime, BeforeValidator(_not_a_number)]
"""A time given as ISO 8601 text, never as a Unix timestamp."""
