"""CSV and XLSX of the summary and the problem list, with Chinese headers.

Cells are written as the registry export writes them (app/sheets.py ``export_text``): what a
spreadsheet would run as a formula is neutralised, what it cannot hold is replaced.
Times are written in the zone of the report's ``at``, so a supervisor who asked in +08:00
reads Beijing time.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo

from app.accounts.models import Account
from app.accounts.spreadsheet import PLATFORM_LABELS
from app.flags.models import Flag
from app.flags.policy import FLAG_LABELS
from app.reports.service import CODES, GroupCounts
from app.sheets import export_text, xlsx_bytes

__all__ = ["problem_table", "summary_table", "to_csv", "to_xlsx"]

Cell = str | int
Table = tuple[list[str], list[list[Cell]]]

_GROUP_HEADERS = {
    "region": ["行政区划代码", "所属地区"],
    "organization": ["主办单位"],
    "department": ["部门"],
    "platform": ["平台"],
}
PROBLEM_HEADERS = [
    "账号编号",
    "账号名称",
    "平台",
    "账号ID",
    "主办单位",
    "行政区划代码",
    "所属地区",
    "部门",
    "是否合格",
    "问题类型",
    "单项否决",
    "发现时间",
    "判定规则",
    "依据",
    "证据",
]


def _rate(group: GroupCounts) -> str:
    rate = group.pass_rate
    return "" if rate is None else f"{rate * 100:.2f}%"


def summary_table(group_by: str, groups: Sequence[GroupCounts], totals: GroupCounts) -> Table:
    """Header and rows of the summary sheet; the last row is the totals (合计)."""
    header = [
        *_GROUP_HEADERS[group_by],
        "账号总数",
        "已检查",
        "合格",
        "不合格",
        "合格率",
        *(FLAG_LABELS[c] for c in CODES),
    ]
    rows: list[list[Cell]] = []
    for group in [*groups, totals]:
        if group.key is None:
            keys = ["合计", *[""] * (len(_GROUP_HEADERS[group_by]) - 1)]
        elif group_by == "region":
            keys = [group.key, group.name or ""]
        elif group_by == "platform":
            keys = [PLATFORM_LABELS.get(group.key, group.key)]
        else:
            keys = [group.key]
        figures = [group.total, group.checked, group.passing, group.checked - group.passing]
        rows.append([*keys, *figures, _rate(group), *(group.flags[c] for c in CODES)])
    return header, rows


def _time(value: datetime, zone: tzinfo) -> str:
    return value.astimezone(zone).isoformat(timespec="seconds")


def problem_table(items: Iterable[tuple[Account, list[Flag]]], zone: tzinfo) -> Table:
    """Header and rows of the problem list (问题账号清单): one row per open flag."""
    rows: list[list[Cell]] = []
    for account, flags in items:
        passing = "合格" if not any(f.veto for f in flags) else "不合格"
        for flag in flags:
            evidence = json.dumps(json.loads(flag.evidence or "{}"), ensure_ascii=False)
            rows.append(
                [
                    account.id or 0,
                    account.name,
                    PLATFORM_LABELS.get(account.platform, account.platform),
                    account.handle,
                    account.organization,
                    account.region_code,
                    account.region_name,
                    account.department,
                    passing,
                    FLAG_LABELS.get(flag.code, flag.code),
                    "是" if flag.veto else "否",
                    _time(flag.opened_at, zone),
                    flag.rule,
                    flag.source,
                    evidence,
                ]
            )
    return PROBLEM_HEADERS, rows


def _safe(value: Cell) -> Cell:
    return export_text(value) if isinstance(value, str) else value


def to_csv(table: Table) -> bytes:
    """UTF-8 CSV with a BOM (so Excel shows Chinese), every cell neutralised."""
    header, rows = table
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([_safe(cell) for cell in header])
    writer.writerows([_safe(cell) for cell in row] for row in rows)
    return buffer.getvalue().encode("utf-8")


def to_xlsx(table: Table, sheet_name: str) -> bytes:
    """An XLSX workbook with one sheet; every text cell is a string, never a formula."""
    header, rows = table
    return xlsx_bytes(sheet_name, [header, *rows])
