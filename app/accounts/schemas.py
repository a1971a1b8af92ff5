"""API shapes for the registry."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

import monitors
from app.params import is_region_code

__all__ = [
    "AccountCreate",
    "AccountDetail",
    "AccountRead",
    "AccountStatus",
    "AccountUpdate",
    "BulkRequest",
    "BulkResult",
    "BulkRow",
    "ImportError_",
    "ImportReport",
    "Level",
    "OpenFlag",
    "Platform",
]

Platform = enum.StrEnum("Platform", {p.upper(): p for p in monitors.PLATFORMS})  # type: ignore[misc]


class Level(enum.StrEnum):
    """Administrative level of the owning body."""

    NATIONAL = "national"
    PROVINCIAL = "provincial"
    MUNICIPAL = "municipal"
    COUNTY = "county"
    TOWNSHIP = "township"


class AccountStatus(enum.StrEnum):
    """Registry status: only active accounts are checked and flagged."""

    ACTIVE = "active"
    ARCHIVED = "archived"
    CLOSED = "closed"


Tags = list[str]


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    for tag in cleaned:
        if "," in tag or len(tag) > 50:
            raise ValueError("a tag has at most 50 characters and no comma")
    if len(cleaned) > 20:
        raise ValueError("an account has at most 20 tags")
    return cleaned


class AccountFields(BaseModel):
    """Fields shared by create and read."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    platform: Platform
    handle: str = Field(min_length=1, max_length=2048, description="The platform's account ID.")
    name: str = Field(min_length=1, max_length=200, description="Registered name (账号名称).")
    organization: str = Field(default="", max_length=200, description="主办单位")
    region_code: str = Field(description="6-digit 行政区划代码, e.g. 220102")
    region_name: str = Field(default="", max_length=100, description="所属地区")
    department: str = Field(default="", max_length=200, description="部门")
    level: Level | None = Field(default=None, description="层级")
    category: str = Field(default="", max_length=100, description="类别")
    status: AccountStatus = AccountStatus.ACTIVE
    tags: Tags = Field(default_factory=list, max_length=20, description="标签")
    check_interval_s: int | None = Field(
        default=None, ge=60, le=90 * 86400, description="Override of the platform's interval."
    )


def _region_code(code: str | None) -> str | None:
    if code is not None and not is_region_code(code):
        raise ValueError("a region code (行政区划代码) is 6 ASCII digits, e.g. 220102")
    return code


class AccountCreate(AccountFields):
    """A new account; the handle is checked and normalised for its platform."""

    @field_validator("handle")
    @classmethod
    def _valid_handle(cls, handle: str, info: ValidationInfo) -> str:
        platform = info.data.get("platform")
        if platform is None:
            return handle
        return monitors.normalize_handle(str(platform), handle)

    @field_validator("tags")
    @classmethod
    def _valid_tags(cls, tags: list[str]) -> list[str]:
        return _clean_tags(tags)

    @field_validator("region_code")
    @classmethod
    def _valid_region(cls, code: str) -> str:
        return _region_code(code) or code


class AccountUpdate(BaseModel):
    """A partial change; only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    platform: Platform | None = None
    handle: str | None = Field(default=None, min_length=1, max_length=2048)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    organization: str | None = Field(default=None, max_length=200)
    region_code: str | None = None
    region_name: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=200)
    level: Level | None = None
    category: str | None = Field(default=None, max_length=100)
    status: AccountStatus | None = None
    tags: Tags | None = Field(default=None, max_length=20)
    check_interval_s: int | None = Field(default=None, ge=60, le=90 * 86400)

    @field_validator("tags")
    @classmethod
    def _valid_tags(cls, tags: list[str] | None) -> list[str] | None:
        return None if tags is None else _clean_tags(tags)

    _valid_region = field_validator("region_code")(_region_code)


class AccountRead(AccountFields):
    """An account as the API shows it, with its latest snapshot."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    updated_at: datetime
    last_checked_at: datetime | None = None
    last_outcome: str | None = None
    last_post_at: datetime | None = None
    followers: int | None = None
    post_count: int | None = None
    verified: bool | None = None
    observed_name: str | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _split_tags(cls, tags: Any) -> Any:
        if isinstance(tags, str):
            return [t for t in tags.split(",") if t]
        return tags


class OpenFlag(BaseModel):
    """An open flag as the account detail shows it."""

    id: int
    code: str
    label_zh: str
    veto: bool
    opened_at: datetime


class AccountDetail(AccountRead):
    """One account with its open flags and whether it passes inspection (合格: no single-veto
    flag open)."""

    open_flags: list[OpenFlag]
    passes_inspection: bool


class BulkRequest(BaseModel):
    """Rows to upsert, keyed by (platform, handle); each row is validated on its own."""

    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)


class BulkRow(BaseModel):
    """What happened to one row of a bulk upsert."""

    index: int
    status: str = Field(description="created, updated, unchanged or error")
    id: int | None = None
    errors: list[dict[str, str]] | None = None


class BulkResult(BaseModel):
    """The per-row answer to a bulk upsert, with totals."""

    created: int
    updated: int
    unchanged: int
    failed: int
    rows: list[BulkRow]


class ImportError_(BaseModel):
    """One bad cell of an imported file: spreadsheet row number, column header and reason."""

    line: int
    column: str
    reason: str


class ImportReport(BaseModel):
    """The outcome of an import; with ``dry_run`` nothing was written."""

    dry_run: bool
    total: int
    created: int
    updated: int
    unchanged: int
    failed: int
    errors: list[ImportError_]
