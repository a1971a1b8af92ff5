"""Cursor pagination: an opaque cursor that encodes the last id seen."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from app.errors import Problem
from app.params import MAX_ID

__all__ = ["CursorQuery", "LimitQuery", "Page", "decode_cursor", "encode_cursor"]

T = TypeVar("T")

LimitQuery = Annotated[int, Query(ge=1, le=500, description="Items per page (1–500).")]
CursorQuery = Annotated[
    str | None, Query(max_length=64, description="The `next_cursor` of the previous page.")
]


class Page(BaseModel, Generic[T]):
    """One page of a list; ``next_cursor`` is null on the last page."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    """The cursor that continues after ``last_id``."""
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The last id a cursor encodes; a 400 problem for a cursor we did not issue."""
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind == "id" and value.isdigit() and int(value) <= MAX_ID:
            return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise Problem(
        400,
        "the cursor is not valid; use the next_cursor of a previous page",
        errors=[{"field": "cursor", "message": "not a cursor issued by this API"}],
    )
