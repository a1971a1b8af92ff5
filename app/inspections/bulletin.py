"""A draft of the bulletin (通报) as DOCX, in the shape the published bulletins take.

一、总体情况 gives the figures in sentences; 二、存在的问题 the problems by kind with examples;
三、整改情况 the rectification against the previous inspection; 四、下一步工作 is left for the
office to write; the annexes are tables (合格率达100%的地区和部门, 存在突出问题的账号).
Built with python-docx (well kept, typed, no office suite needed) from the same result the
API gives, so the draft's figures are the inspection's.
"""

from __future__ import annotations

import io
from typing import Any

from docx import Document
from docx.document import Document as DocumentObject
from docx.oxml.ns import qn
from docx.shared import Pt

from app.inspections.export import GROUPING_WORDS, scope_text
from app.inspections.wording import china_date
from app.reports.service import CODES

__all__ = ["ANNEX_ROWS", "to_docx"]

# The problem annex names at most this many accounts; the XLSX export holds them all. A
# bulletin names accounts with prominent problems, and a Word table of tens of thousands of
# rows is neither readable nor quick to build.
ANNEX_ROWS = 2_000
_EXAMPLES = 5
_NUMERALS = "一二三四五六七八九十"


def _ordinal(index: int) -> str:
    return f"（{_NUMERALS[index]}）" if index < len(_NUMERALS) else f"（{index + 1}）"


def _setup(document: DocumentObject) -> None:
    style = document.styles["Normal"]
    style.font.name = "FangSong"
    style.font.size = Pt(14)
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "仿宋")


def _overview(result: dict[str, Any]) -> str:
    sample = result["sample"]
    if sample is None:
        drawn = f"全部{result['sampled']}个纳入检查"
    else:
        share = result["sample_share"] or 0
        drawn = (
            f"随机抽查{result['sampled']}个，抽查比例{share * 100:.2f}%（随机种子{sample['seed']}）"
        )
    rate = result["pass_rate_percent"] or "—"
    return (
        f"本次检查以{china_date(result['at'])}为监测时间点，检查范围为{scope_text(result['scope'])}。"
        f"范围内共有备案政务新媒体和网站{result['accounts_in_scope']}个，{drawn}，"
        f"已检查{result['checked']}个，合格{result['passing']}个，不合格{result['failing']}个，"
        f"总体合格率为{rate}。"
    )


def _full_pass_sentence(result: dict[str, Any]) -> str:
    counts = {g: len(keys) for g, keys in result["full_pass"].items()}
    return (
        f"{counts['region']}个地区、{counts['department']}个部门、"
        f"{counts['organization']}个主办单位合格率达100%（名单见附件1）。"
    )


def _by_platform(result: dict[str, Any]) -> str:
    parts = [
        f"{row['name']}{row['total']}个，合格率{row['pass_rate_percent'] or '—'}"
        for row in result["groups"]["platform"]
    ]
    return "分平台看，" + "；".join(parts) + "。" if parts else ""


def _problem_kinds(result: dict[str, Any]) -> list[str]:
    by_code: dict[str, list[dict[str, Any]]] = {}
    for account in result["problems"]:
        for problem in account["problems"]:
            by_code.setdefault(problem["code"], []).append(account)
    paragraphs = []
    for code in [c for c in CODES if c in by_code]:
        accounts = by_code[code]
        examples = "、".join(f"{a['name']}（{a['organization']}）" for a in accounts[:_EXAMPLES])
        label = result["labels"][code]
        more = "等" if len(accounts) > _EXAMPLES else ""
        paragraphs.append(f"{len(accounts)}个账号存在“{label}”问题，如{examples}{more}。")
    return [f"{_ordinal(i)}{text}" for i, text in enumerate(paragraphs)]


def _rectification(found: dict[str, Any]) -> str:
    previous = found["previous"]
    return (
        f"对照上次检查（{previous['name']}，监测时间点{china_date(previous['at'])}）发现的问题，"
        f"已整改{found['fixed_count']}个，仍未整改{found['still_open_count']}个，"
        f"本次未复查{found['not_reinspected_count']}个；本次新发现问题{found['new_count']}个。"
    )


def _table(document: DocumentObject, header: list[str], rows: list[list[str]]) -> None:
    table = document.add_table(rows=len(rows) + 1, cols=len(header))
    table.style = "Table Grid"
    # Row by row through the XML rows: table.cell() recomputes the grid on every call.
    for tr_row, values in zip(table.rows, [header, *rows], strict=True):
        for cell, value in zip(tr_row.cells, values, strict=True):
            cell.text = value


def _annexes(document: DocumentObject, result: dict[str, Any]) -> None:
    document.add_page_break()  # type: ignore[no-untyped-call]
    document.add_heading("附件1  合格率达100%的地区和部门名单", level=2)
    rows = []
    for grouping in ("region", "department", "organization"):
        named = {r["key"]: r for r in result["groups"][grouping]}
        word = GROUPING_WORDS[grouping]
        rows += [[word, named[key]["name"] or key] for key in result["full_pass"][grouping]]
    _table(document, ["类别", "名称"], rows)
    document.add_page_break()  # type: ignore[no-untyped-call]
    document.add_heading("附件2  存在突出问题的政务新媒体名单", level=2)
    listed = result["problems"][:ANNEX_ROWS]
    problem_rows = [
        [
            str(number),
            account["region_name"] or account["region_code"],
            account["organization"],
            account["name"],
            account["platform_label"],
            "；".join(p["description"] for p in account["problems"]),
        ]
        for number, account in enumerate(listed, start=1)
    ]
    _table(document, ["序号", "地区", "主办单位", "账号名称", "平台", "存在问题"], problem_rows)
    if len(result["problems"]) > ANNEX_ROWS:
        document.add_paragraph(
            f"（共{len(result['problems'])}个，此处列出前{ANNEX_ROWS}个；完整名单见检查结果表格。）"
        )


def to_docx(result: dict[str, Any]) -> bytes:
    """The bulletin draft of an inspection result (``service.result``), as DOCX bytes."""
    document = Document()
    _setup(document)
    document.add_heading(f"关于{result['name']}情况的通报", level=1)
    document.add_heading("一、总体情况", level=2)
    document.add_paragraph(_overview(result))
    document.add_paragraph(_full_pass_sentence(result) + _by_platform(result))
    document.add_heading("二、存在的问题", level=2)
    kinds = _problem_kinds(result)
    for text in kinds or ["本次检查未发现突出问题。"]:
        document.add_paragraph(text)
    if kinds:
        document.add_paragraph("存在突出问题的账号名单见附件2。")
    if result["rectification"] is not None:
        document.add_heading("三、整改情况", level=2)
        document.add_paragraph(_rectification(result["rectification"]))
    document.add_heading("四、下一步工作" if result["rectification"] else "三、下一步工作", level=2)
    document.add_paragraph("（请填写整改要求与时限。）")
    _annexes(document, result)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
