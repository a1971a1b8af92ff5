"""The bulletin's figures (通报), computed from an inspection's frozen rows alone.

Pure functions: the same frozen rows give the same figures, in the same order, every time, so
a published inspection reads the same byte for byte whatever happens to the registry later.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.accounts.spreadsheet import LEVEL_LABELS, PLATFORM_LABELS
from app.flags.policy import FLAG_LABELS
from app.inspections.wording import describe
from app.reports.service import CODES, PROBLEM_CODES

__all__ = [
    "GROUPINGS",
    "REGISTRY_FIELDS",
    "FrozenAccount",
    "FrozenFlag",
    "Headline",
    "account_data",
    "flag_data",
    "full_pass",
    "groups",
    "headline",
    "is_problem",
    "percent",
    "problems",
    "rate",
    "rectification",
]

GROUPINGS = ("region", "organization", "department", "level", "platform")
# The registry fields an inspection freezes, named as on Account and FrozenAccount.
REGISTRY_FIELDS = (
    "platform",
    "handle",
    "name",
    "organization",
    "region_code",
    "region_name",
    "department",
    "level",
    "category",
)


@dataclass(slots=True)
class FrozenFlag:
    """A flag open on an inspected account at the time point, as frozen."""

    account_id: int
    flag_id: int
    code: str
    veto: bool
    opened_at: datetime
    rule: str
    source: str
    evidence: str  # JSON text, as the rules wrote it
    check_id: int | None


@dataclass(slots=True)
class FrozenAccount:
    """An inspected account as it stood: registry fields, verdict, last post and last check.

    ``passes`` is None when the account had not been checked by the time point.
    """

    account_id: int
    platform: str
    handle: str
    name: str
    organization: str
    region_code: str
    region_name: str
    department: str
    level: str | None
    category: str
    passes: bool | None
    last_post_at: datetime | None
    last_checked_at: datetime | None
    last_check_id: int | None
    last_outcome: str | None
    flags: list[FrozenFlag] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """合格, 不合格, or 未检查 (no check by the time point)."""
        return "未检查" if self.passes is None else ("合格" if self.passes else "不合格")


def is_problem(flag: FrozenFlag) -> bool:
    """A prominent problem (存在突出问题): a single veto, or a code the problem list always
    shows (the same rule as ``reports.service.problem_page``)."""
    return flag.veto or flag.code in PROBLEM_CODES


def rate(passing: int, checked: int) -> float | None:
    """passing / checked rounded to 4 places (0.7873); None when nothing was checked."""
    return round(passing / checked, 4) if checked else None


def percent(passing: int, checked: int) -> str | None:
    """The rate as the bulletins print it, two decimals: 78.73%."""
    return f"{passing * 100 / checked:.2f}%" if checked else None


@dataclass(frozen=True, slots=True)
class Headline:
    """The inspection's totals."""

    sampled: int
    checked: int
    passing: int
    flag_counts: dict[str, int]


def headline(accounts: Sequence[FrozenAccount]) -> Headline:
    """Accounts inspected, checked, passing, and accounts with each flag open."""
    checked = sum(1 for a in accounts if a.passes is not None)
    passing = sum(1 for a in accounts if a.passes)
    return Headline(len(accounts), checked, passing, _flag_counts(accounts))


def _flag_counts(accounts: Iterable[FrozenAccount]) -> dict[str, int]:
    counts = dict.fromkeys(CODES, 0)
    for account in accounts:
        for code in {f.code for f in account.flags}:
            counts[code] = counts.get(code, 0) + 1
    return counts


_KEYS: dict[str, Callable[[FrozenAccount], str]] = {
    "region": lambda a: a.region_code,
    "organization": lambda a: a.organization,
    "department": lambda a: a.department,
    "level": lambda a: a.level or "",
    "platform": lambda a: a.platform,
}


def _name(grouping: str, key: str, members: Sequence[FrozenAccount]) -> str:
    if grouping == "region":  # the greatest name its accounts carry, as the summary names it
        return max(a.region_name for a in members)
    if grouping == "platform":
        return PLATFORM_LABELS.get(key, key)
    if grouping == "level":
        return LEVEL_LABELS.get(key, key)
    return key


def groups(accounts: Sequence[FrozenAccount]) -> dict[str, list[dict[str, Any]]]:
    """Per grouping, one row per group in key order: total, checked, passing, rate, flags."""
    result: dict[str, list[dict[str, Any]]] = {}
    for grouping in GROUPINGS:
        members: dict[str, list[FrozenAccount]] = defaultdict(list)
        for account in accounts:
            members[_KEYS[grouping](account)].append(account)
        rows = []
        for key in sorted(members):
            totals = headline(members[key])
            rows.append(
                {
                    "key": key,
                    "name": _name(grouping, key, members[key]),
                    "total": totals.sampled,
                    "checked": totals.checked,
                    "passing": totals.passing,
                    "failing": totals.checked - totals.passing,
                    "pass_rate": rate(totals.passing, totals.checked),
                    "pass_rate_percent": percent(totals.passing, totals.checked),
                    "flags": totals.flag_counts,
                }
            )
        result[grouping] = rows
    return result


def full_pass(grouped: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    """Per grouping, the keys of the groups at 100% (合格率达100%): checked, none failing."""
    return {
        grouping: [r["key"] for r in rows if r["checked"] and r["passing"] == r["checked"]]
        for grouping, rows in grouped.items()
    }


def flag_data(flag: FrozenFlag) -> dict[str, Any]:
    """A frozen flag as the API shows it, with its problem in Chinese."""
    evidence = json.loads(flag.evidence or "{}")
    return {
        "flag_id": flag.flag_id,
        "code": flag.code,
        "label_zh": FLAG_LABELS.get(flag.code, flag.code),
        "veto": flag.veto,
        "description": describe(flag.code, evidence),
        "opened_at": flag.opened_at,
        "rule": flag.rule,
        "source": flag.source,
        "check_id": flag.check_id,
        "evidence": evidence,
    }


def account_data(account: FrozenAccount) -> dict[str, Any]:
    """A frozen account as the API shows it."""
    return _fields(account) | {"flags": [flag_data(f) for f in account.flags]}


def _fields(account: FrozenAccount) -> dict[str, Any]:
    return {
        "account_id": account.account_id,
        "name": account.name,
        "platform": account.platform,
        "handle": account.handle,
        "organization": account.organization,
        "region_code": account.region_code,
        "region_name": account.region_name,
        "department": account.department,
        "level": account.level,
        "category": account.category,
        "passes": account.passes,
        "verdict": account.verdict,
        "last_post_at": account.last_post_at,
        "last_checked_at": account.last_checked_at,
        "last_check_id": account.last_check_id,
        "last_outcome": account.last_outcome,
    }


def _by_place(account: FrozenAccount) -> tuple[str, str, str, int]:
    return account.region_code, account.organization, account.name, account.account_id


def problems(accounts: Sequence[FrozenAccount]) -> list[dict[str, Any]]:
    """The 存在突出问题的账号名单: accounts with a prominent problem, by region and
    organisation, each with those problems described and their evidence."""
    listed = []
    for account in sorted(accounts, key=_by_place):
        found = [flag_data(f) for f in account.flags if is_problem(f)]
        if found:
            row = _fields(account)
            row["platform_label"] = PLATFORM_LABELS.get(account.platform, account.platform)
            row["problems"] = found
            listed.append(row)
    return listed


def _problem_keys(accounts: Sequence[FrozenAccount]) -> dict[tuple[int, str], FrozenAccount]:
    return {(a.account_id, f.code): a for a in accounts for f in a.flags if is_problem(f)}


def _pair(key: tuple[int, str], account: FrozenAccount) -> dict[str, Any]:
    return {
        "account_id": key[0],
        "name": account.name,
        "platform": account.platform,
        "organization": account.organization,
        "region_code": account.region_code,
        "code": key[1],
        "label_zh": FLAG_LABELS.get(key[1], key[1]),
    }


def rectification(
    previous: dict[str, Any],
    before: Sequence[FrozenAccount],
    now: Sequence[FrozenAccount],
) -> dict[str, Any]:
    """整改情况: the previous inspection's problems (account, code) fixed since (the account
    inspected again without it), still open, or not inspected again; and the new ones."""
    was, found = _problem_keys(before), _problem_keys(now)
    inspected = {a.account_id for a in now}
    fixed = [_pair(k, a) for k, a in sorted(was.items()) if k not in found and k[0] in inspected]
    still = [_pair(k, found[k]) for k in sorted(was) if k in found]
    gone = [_pair(k, a) for k, a in sorted(was.items()) if k[0] not in inspected]
    new = [_pair(k, a) for k, a in sorted(found.items()) if k not in was]
    return {
        "previous": previous,
        "fixed_count": len(fixed),
        "still_open_count": len(still),
        "not_reinspected_count": len(gone),
        "new_count": len(new),
        "fixed": fixed,
        "still_open": still,
        "not_reinspected": gone,
        "new": new,
    }
