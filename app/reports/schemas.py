"""API shapes for reports and spot-check samples."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.accounts.schemas import AccountRead, AccountStatus, Platform
from app.params import REGION_PREFIX_PATTERN

__all__ = [
    "GroupBy",
    "ProblemAccount",
    "ProblemFlag",
    "ProblemPage",
    "SampleFilters",
    "SampleRequest",
    "SampleResult",
    "Summary",
    "SummaryRow",
]

GroupBy = Literal["region", "organization", "department", "platform"]


class SummaryRow(BaseModel):
    """One group of the summary (or the totals): counts of accounts as of ``at``."""

    key: str | None = Field(
        description="The group's value (region code, organization, department or platform); "
        "null on the totals row."
    )
    name: str | None = Field(
        default=None, description="The region name when grouped by region, else null."
    )
    total: int = Field(description="Active accounts registered at `at` (账号总数).")
    checked: int = Field(description="Of those, checked at least once by `at` (已检查).")
    passing: int = Field(description="Checked, with no single-veto flag open at `at` (合格).")
    pass_rate: float | None = Field(
        description="passing / checked, rounded to 4 places; null when none was checked (合格率)."
    )
    flags: dict[str, int] = Field(description="Accounts with each flag open at `at`, by code.")


class Summary(BaseModel):
    """Pass rates and open-flag counts per group as of one time point (监测时间点)."""

    at: datetime
    group_by: GroupBy
    labels: dict[str, str] = Field(description="The 中文 label of each flag code.")
    groups: list[SummaryRow]
    totals: SummaryRow


class ProblemFlag(BaseModel):
    """A flag open on a problem account at ``at``, with the observation that decided it."""

    id: int
    code: str
    label_zh: str
    veto: bool
    opened_at: datetime
    rule: str
    source: str
    evidence: dict[str, Any]

    @field_validator("evidence", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return json.loads(value or "{}") if isinstance(value, str) else value


class ProblemAccount(BaseModel):
    """One row of the 问题账号清单: the account and its open flags."""

    id: int
    platform: str
    handle: str
    name: str
    organization: str
    region_code: str
    region_name: str
    department: str
    status: str
    last_checked_at: datetime | None
    last_outcome: str | None
    last_post_at: datetime | None
    passing: bool = Field(description="False when a single-veto flag is open (不合格).")
    flags: list[ProblemFlag]


class ProblemPage(BaseModel):
    """One page of the problem list as of ``at``; ``next_cursor`` is null on the last page."""

    at: datetime
    items: list[ProblemAccount]
    next_cursor: str | None


class SampleFilters(BaseModel):
    """Which accounts a sample is drawn from."""

    model_config = ConfigDict(extra="forbid")

    platform: Platform | None = None
    region_code: str | None = Field(
        default=None, pattern=REGION_PREFIX_PATTERN, description="Region-code prefix, e.g. 2201."
    )
    organization: str | None = Field(default=None, max_length=200)
    status: AccountStatus = AccountStatus.ACTIVE


class SampleRequest(BaseModel):
    """A spot-check sample: a ratio of the matching accounts or a fixed size, and a seed.

    The same seed over the same registry gives the same accounts; without a seed one is
    chosen and echoed, so the sample can be drawn again.
    """

    model_config = ConfigDict(extra="forbid")

    ratio: float | None = Field(default=None, gt=0, le=1, description="0 < ratio <= 1.")
    size: int | None = Field(default=None, ge=1, le=100_000)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    filters: SampleFilters = Field(default_factory=SampleFilters)


class SampleResult(BaseModel):
    """The sampled accounts in id order, with the parameters that reproduce them."""

    seed: int
    ratio: float | None
    size: int | None
    filters: SampleFilters
    population: int = Field(description="Accounts matching the filters.")
    sampled: int
    method: str = Field(description="How the sample is drawn, so it can be checked by hand.")
    items: list[AccountRead]
