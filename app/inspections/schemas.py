"""API shapes for inspections: what to take, and the list rows.

The whole result (``GET /api/v1/inspections/{id}``) is built as plain data by
``figures.bulletin`` and documented by ``InspectionResult``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.accounts.schemas import Level, Platform
from app.params import REGION_PREFIX_PATTERN, IsoDatetime

__all__ = [
    "InspectionCreate",
    "InspectionList",
    "InspectionResult",
    "InspectionRow",
    "InspectionSample",
    "InspectionScope",
]

_MAX_VALUES = 100
_SCOPE_FIELDS = ("region_prefix", "platforms", "departments", "levels", "categories")
_SAMPLE_FIELDS = ("ratio", "size", "seed")


def _sorted_unique(values: list[Any]) -> list[Any]:
    return sorted({str(v) for v in values})


class InspectionScope(BaseModel):
    """Which registered accounts an inspection covers; each part given narrows it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    region_prefix: str | None = Field(
        default=None,
        pattern=REGION_PREFIX_PATTERN,
        description="Region-code prefix, e.g. 2201; within the key's own region. "
        "Default: the key's region (or everything for an unscoped key).",
    )
    platforms: list[Platform] = Field(default_factory=list, max_length=_MAX_VALUES)
    departments: list[str] = Field(default_factory=list, max_length=_MAX_VALUES)
    levels: list[Level] = Field(default_factory=list, max_length=_MAX_VALUES)
    categories: list[str] = Field(default_factory=list, max_length=_MAX_VALUES)

    @field_validator("platforms", "departments", "levels", "categories", mode="after")
    @classmethod
    def _canonical(cls, values: list[Any]) -> list[Any]:
        for value in values:
            if not 1 <= len(str(value)) <= 200:
                raise ValueError("each value holds 1 to 200 characters")
        return _sorted_unique(values)


class InspectionSample(BaseModel):
    """A reproducible draw from the scope, as ``POST /api/v1/samples`` draws it."""

    model_config = ConfigDict(extra="forbid")

    ratio: float | None = Field(default=None, gt=0, le=1, description="0 < ratio <= 1.")
    size: int | None = Field(default=None, ge=1, le=1_000_000)
    seed: int | None = Field(
        default=None, ge=0, le=2**63 - 1, description="Default: one is chosen and kept."
    )


class InspectionCreate(BaseModel):
    """An inspection to take: a name, a time point (监测时间点), a scope and maybe a sample."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, examples=["2026年第四季度政务新媒体检查"])
    at: IsoDatetime | None = Field(
        default=None, description="The time point, not in the future; default now."
    )
    scope: InspectionScope = Field(default_factory=InspectionScope)
    sample: InspectionSample | None = None

    @model_validator(mode="before")
    @classmethod
    def _nest(cls, data: Any) -> Any:
        """Scope and sample fields given at the top level (``{"name", "region_prefix",
        "ratio", "seed"}``) are read as if nested; given both ways they are refused."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for part, names in (("scope", _SCOPE_FIELDS), ("sample", _SAMPLE_FIELDS)):
            flat = {n: data.pop(n) for n in names if n in data}
            if flat:
                if data.get(part) is not None:
                    raise ValueError(f"give {', '.join(flat)} inside {part}, or all outside it")
                data[part] = flat
        return data


class InspectionRow(BaseModel):
    """One inspection in the list: what was taken, and its headline figures."""

    id: int
    name: str
    at: datetime
    scope: dict[str, Any]
    sample: dict[str, Any] | None
    accounts_in_scope: int
    sampled: int
    checked: int
    passing: int
    pass_rate: float | None
    previous_id: int | None
    created_at: datetime
    created_by: str


class InspectionList(BaseModel):
    """A page of inspections, newest first; ``next_cursor`` is null on the last page."""

    items: list[InspectionRow]
    next_cursor: str | None


class InspectionResult(InspectionRow):
    """The whole frozen result and the bulletin's figures (通报). Rates are fractions rounded
    to 4 places (0.7873); ``*_percent`` gives them as the bulletins print them (78.73%)."""

    sample_share: float | None = Field(description="sampled / accounts_in_scope.")
    failing: int
    pass_rate_percent: str | None
    labels: dict[str, str] = Field(description="The 中文 label of each flag code.")
    flag_counts: dict[str, int] = Field(description="Inspected accounts with each flag open.")
    groups: dict[str, list[dict[str, Any]]] = Field(
        description="Per grouping (region, organization, department, level, platform): "
        "key, name, total, checked, passing, pass_rate, pass_rate_percent, flags."
    )
    full_pass: dict[str, list[str]] = Field(
        description="Per grouping, the keys of the groups at 100% (合格率达100%)."
    )
    problems: list[dict[str, Any]] = Field(
        description="存在突出问题的账号: each with its problems in Chinese and their evidence."
    )
    accounts: list[dict[str, Any]] = Field(
        description="Every frozen account: registry fields, verdict, last post and check, flags."
    )
    rectification: dict[str, Any] | None = Field(
        description="整改情况 against the previous inspection of the same scope: problems "
        "fixed since and still open; null when there is none."
    )
