"""An inspection as one XLSX workbook with the Chinese headers offices use.

Built from the result ``service.result`` gives (the same figures as the API), written in
openpyxl's write-only mode through ``app.sheets.xlsx_workbook``: openpyxl is already the
registry's sheet library, and write-only mode streams rows instead of holding cells.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from app.accounts.spreadsheet import LEVEL_LABELS, PLATFORM_LABELS
from app.inspections.wording import CHINA
from app.reports.service import CODES
from app.sheets import xlsx_workbook

__all__ = ["GROUPING_SHEETS", "GROUPING_WORDS", "china_time", "scope_text", "to_xlsx"]

Row = list[str | int]

# Each grouping's sheet name and key headers.
GROUPING_SHEETS: dict[str, tuple[str, list[str]]] = {
    "region": ("按地区", ["行政区划代码", "所属地区"]),
    "organization": ("按主办单位", ["主办单位"]),
    "department": ("按部门", ["部门"]),
    "level": ("按层级", ["层级"]),
    "platform": ("按平台", ["平台"]),
}
GROUPING_WORDS = {
    "region": "地区",
    "organization": "主办单位",
    "department": "部门",
    "level": "层级",
    "platform": "平台",
}
PROBLEM_HEADERS = [
    "序号",
    "账号编号",
    "账号名称",
    "平台",
    "账号ID",
    "主办单位",
    "行政区划代码",
    "所属地区",
    "部门",
    "是否合格",
    "存在问题",
    "判定检查编号",
    "证据",
]


def china_time(value: datetime | None) -> str:
    """A time in China (UTC+8), to the second; empty for none."""
    return "" if value is None else value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def scope_text(scope: dict[str, Any]) -> str:
    """The scope in words: region prefix and the lists that narrow it."""
    parts = [
        f"行政区划代码以{scope['region_prefix']}开头" if scope.get("region_prefix") else "全部地区"
    ]
    named = [
        ("平台", [PLATFORM_LABELS.get(p, p) for p in scope.get("platforms", [])]),
        ("部门", scope.get("departments", [])),
        ("层级", [LEVEL_LABELS.get(v, v) for v in scope.get("levels", [])]),
        ("类别", scope.get("categories", [])),
    ]
    parts.extend(f"{word}：{'、'.join(values)}" for word, values in named if values)
    return "；".join(parts)


def _overview(result: dict[str, Any]) -> Iterator[Row]:
    yield ["项目", "数值"]
    sample = result["sample"]
    yield ["检查编号", result["id"]]
    yield ["检查名称", result["name"]]
    yield ["监测时间点", china_time(result["at"])]
    yield ["检查范围", scope_text(result["scope"])]
    yield ["备案总数", result["accounts_in_scope"]]
    yield ["抽查数", result["sampled"]]
    share = result["sample_share"]
    yield ["抽查比例", "" if share is None else f"{share * 100:.2f}%"]
    if sample is not None:
        yield ["抽样种子", str(sample["seed"])]
    yield ["已检查", result["checked"]]
    yield ["合格", result["passing"]]
    yield ["不合格", result["failing"]]
    yield ["合格率", result["pass_rate_percent"] or ""]
    for code in CODES:
        yield [f"{result['labels'][code]}（账号数）", result["flag_counts"][code]]


def _grouping(result: dict[str, Any], grouping: str) -> Iterator[Row]:
    _sheet, keys = GROUPING_SHEETS[grouping]
    labels = [result["labels"][c] for c in CODES]
    yield [*keys, "检查数", "已检查", "合格", "不合格", "合格率", *labels]
    for row in result["groups"][grouping]:
        if grouping == "region":
            head: Row = [row["key"], row["name"]]
        else:
            head = [row["name"] or "（未填）"]
        figures: Row = [row["total"], row["checked"], row["passing"], row["failing"]]
        flags: Row = [row["flags"][c] for c in CODES]
        yield [*head, *figures, row["pass_rate_percent"] or "", *flags]


def _full_pass(result: dict[str, Any]) -> Iterator[Row]:
    yield ["类别", "代码", "名称", "检查数", "合格率"]
    for grouping, keys in result["full_pass"].items():
        rows = {r["key"]: r for r in result["groups"][grouping]}
        for key in keys:
            row = rows[key]
            name = row["name"] or "（未填）"
            code = key if grouping == "region" else ""
            word = GROUPING_WORDS[grouping]
            yield [word, code, name, row["total"], row["pass_rate_percent"] or ""]


def _problems(result: dict[str, Any]) -> Iterator[Row]:
    header: Row = [*PROBLEM_HEADERS]
    yield header
    for number, account in enumerate(result["problems"], start=1):
        problems = account["problems"]
        check_ids = [str(p["check_id"]) for p in problems if p["check_id"] is not None]
        evidence = [{"code": p["code"], **p["evidence"]} for p in problems]
        yield [
            number,
            account["account_id"],
            account["name"],
            account["platform_label"],
            account["handle"],
            account["organization"],
            account["region_code"],
            account["region_name"],
            account["department"],
            account["verdict"],
            "；".join(p["description"] for p in problems),
            ",".join(check_ids),
            json.dumps(evidence, ensure_ascii=False, default=str),
        ]


def _rectification(result: dict[str, Any]) -> Iterator[Row]:
    yield ["整改情况", "账号编号", "账号名称", "平台", "主办单位", "行政区划代码", "问题类型"]
    found = result["rectification"]
    for state, key in (
        ("已整改", "fixed"),
        ("未整改", "still_open"),
        ("未复查", "not_reinspected"),
    ):
        for pair in found[key]:
            platform = PLATFORM_LABELS.get(pair["platform"], pair["platform"])
            yield [
                state,
                pair["account_id"],
                pair["name"],
                platform,
                pair["organization"],
                pair["region_code"],
                pair["label_zh"],
            ]


def to_xlsx(result: dict[str, Any]) -> bytes:
    """The workbook: 总体情况, a sheet per grouping, 合格率100%名单, 问题账号名单 and, against a
    previous inspection, 整改情况."""
    sheets: list[tuple[str, Iterator[Row]]] = [("总体情况", _overview(result))]
    sheets += [(GROUPING_SHEETS[g][0], _grouping(result, g)) for g in GROUPING_SHEETS]
    sheets += [("合格率100%名单", _full_pass(result)), ("问题账号名单", _problems(result))]
    if result["rectification"] is not None:
        sheets.append(("整改情况", _rectification(result)))
    return xlsx_workbook(sheets)
