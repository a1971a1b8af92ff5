"""Each problem in the words the bulletins use ("2019年6月14日后未更新", "账号已注销", …).

Pure functions of a flag's code and evidence (as the rules wrote it, app/flags/rules.py).
Dates are China's (UTC+8, no daylight saving), as the bulletins print them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from app.flags.policy import FLAG_LABELS

__all__ = ["CHINA", "china_date", "describe"]

CHINA = timezone(timedelta(hours=8), "CST")

_GONE = {
    "deleted": "账号已注销",
    "banned": "账号已被封禁",
    "not_found": "账号无法访问（平台提示不存在）",
}


def china_date(value: datetime | str | None) -> str | None:
    """``value`` as a date in China, written 2019年6月14日; None stays None."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    day = moment.astimezone(CHINA)
    return f"{day.year}年{day.month}月{day.day}日"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _silent(evidence: dict[str, Any], what: str) -> str:
    days = evidence.get("threshold_days")
    last = china_date(evidence.get("last_post_at"))
    if last is None:
        return f"从未{what}"
    if days is None:
        return f"{last}后未{what}"
    return f"{last}后未{what}（超过{_number(days)}天）"


def _unreachable(evidence: dict[str, Any]) -> str:
    if "failure_ratio" in evidence:  # a website's probes over a window (W2)
        ratio = float(evidence["failure_ratio"]) * 100
        return (
            f"网站无法访问：{_number(evidence.get('window_days'))}天内"
            f"{evidence.get('failed')}/{evidence.get('probes')}次访问失败（{ratio:.2f}%）"
        )
    gone = _GONE.get(str(evidence.get("outcome")), "账号无法访问")
    since = china_date(evidence.get("first_gone_at"))
    return f"{gone}（{since}起）" if since else gone


def describe(code: str, evidence: dict[str, Any]) -> str:
    """One problem as a sentence of the bulletin's problem list; its label alone when the
    evidence does not read as the rules write it (a row stored by an older version)."""
    try:
        return _describe(code, evidence)
    except (ValueError, TypeError, AttributeError):
        return FLAG_LABELS.get(code, code)


def _describe(code: str, evidence: dict[str, Any]) -> str:
    if code == "stale":
        return _silent(evidence, "更新")
    if code == "zombie":
        return "僵尸账号：" + _silent(evidence, "更新")
    if code == "app_outdated":
        return "应用长期未更新：" + _silent(evidence, "更新版本")
    if code == "unreachable":
        return _unreachable(evidence)
    if code == "empty_shell":
        if evidence.get("post_count") == 0 and evidence.get("followers") == 0:
            return "空壳账号：零发布、零粉丝"
        return "空壳账号：无发布内容"
    if code == "unverified":
        return "账号未认证"
    if code == "duplicate":
        others = evidence.get("other_accounts")
        return f"重复开设：同一主办单位在该平台另有{others}个账号" if others else "重复开设"
    if code == "blind":
        days = evidence.get("threshold_days")
        return f"连续{_number(days)}天无法监测" if days is not None else "无法监测"
    return FLAG_LABELS.get(code, code)
