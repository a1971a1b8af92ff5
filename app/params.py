"""Parameter types the routers share: row ids, times and region codes, validated before they
reach a query."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from annotated_types import Interval
from fastapi import Query
from pydantic import AfterValidator, BeforeValidator

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_ID",
    "REGION_CODE_PATTERN",
    "REGION_PREFIX_PATTERN",
    "IsoDatetime",
    "RegionPrefixQuery",
    "RowId",
    "is_region_code",
    "is_region_prefix",
]

# The largest integer both databases bind; SQLite raises OverflowError beyond it.
MAX_ID = 2**63 - 1

RowId = Annotated[int, Interval(ge=1, le=MAX_ID)]
"""A row id in a path or query: a positive 64-bit integer (anything else is a 422)."""

_NUMBER = re.compile(r"\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*")
_EXAMPLE = "e.g. 2026-11-01T00:00:00+08:00"

# The times a client may give. Python's datetime holds years 1 to 9999 only, so
# 9999-12-31T23:59:59-12:00 or 0001-01-01T00:00:00+01:00 parse but cannot be turned into UTC,
# which the database layer does to every time it binds (OverflowError, a 500). The routes
# compare and store these times (since, at, until) and compute times around them (a day or a
# week apart, intervals added to now); within 1900..9000 UTC all of that stays inside
# Python's range, SQLite's fixed-width ISO text (which sorts as time only with 4-digit years) and
# PostgreSQL's timestamptz, with centuries to spare. Nothing this service watches predates 1900,
# the first day of the date system of the spreadsheets it exports.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _not_a_number(value: object) -> object:
    # Pydantic reads numbers, and strings of digits, as Unix timestamps; the API promises
    # ISO 8601 and says so in its schema (format date-time), so a number is invalid input.
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError(f"a time is ISO 8601 with a zone, {_EXAMPLE}")
    return value


def _zoned_and_in_range(value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise ValueError(f"a time needs a zone, {_EXAMPLE}")
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:  # the conversion itself leaves year 1..9999
        in_utc = None
    if in_utc is None or not EARLIEST <= in_utc <= LATEST:
        raise ValueError(
            f"a time lies between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC), {_EXAMPLE}"
        )
    return value


IsoDatetime = Annotated[
    datetime, BeforeValidator(_not_a_number), AfterValidator(_zoned_and_in_range)
]
"""A time given as ISO 8601 text with a zone, never as a Unix timestamp, between EARLIEST and
LATEST: the one type of every time a client sends (query parameter or body field)."""

# `\d` matches every Unicode digit, in Python's re and in pydantic-core's Rust regex alike:
# ２２０１０１ and ٢٢٠١٠١ would pass, and an account stored so never matches a region scope.
_ASCII_DIGIT = "[0-9]"
REGION_CODE_PATTERN = f"^{_ASCII_DIGIT}{{6}}$"
"""A 行政区划代码: six ASCII digits."""
REGION_PREFIX_PATTERN = f"^{_ASCII_DIGIT}{{1,6}}$"
"""A region-code prefix (a key's scope, a filter): one to six ASCII digits."""

RegionPrefixQuery = Annotated[
    str | None, Query(pattern=REGION_PREFIX_PATTERN, description="Region-code prefix, e.g. 2201.")
]
"""The region-code filter of the list and report routes."""


def is_region_code(text: str) -> bool:
    """Whether ``text`` is a whole region code (six ASCII digits)."""
    return re.fullmatch(REGION_CODE_PATTERN, text) is not None


def is_region_prefix(text: str) -> bool:
    """Whether ``text`` is a region-code prefix (one to six ASCII digits)."""
    return re.fullmatch(REGION_PREFIX_PATTERN, text) is not None
