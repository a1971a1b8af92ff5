"""Each flag's problem in the bulletins' words, from the evidence the rules write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.flags.policy import FLAG_LABELS
from app.inspections.wording import china_date, describe


def test_dates_are_chinas() -> None:
    # 16:30 UTC on the 13th is already the 14th in China.
    assert china_date(datetime(2019, 6, 13, 16, 30, tzinfo=UTC)) == "2019年6月14日"
    assert china_date("2019-06-13T15:59:59+00:00") == "2019年6月13日"
    assert china_date(None) is None


@pytest.mark.parametrize(
    ("code", "evidence", "words"),
    [
        ("stale", {"last_post_at": "2019-06-14T02:00:00+00:00", "threshold_days": 14},
         "2019年6月14日后未更新（超过14天）"),
        ("stale", {"last_post_at": None, "threshold_days": 14}, "从未更新"),
        ("zombie", {"last_post_at": "2025-01-01T00:00:00+00:00", "threshold_days": 90.0},
         "僵尸账号：2025年1月1日后未更新（超过90天）"),
        ("app_outdated", {"last_post_at": "2024-03-01T00:00:00+00:00", "threshold_days": 365},
         "应用长期未更新：2024年3月1日后未更新版本（超过365天）"),
        ("unreachable", {"outcome": "deleted", "first_gone_at": "2026-06-27T00:00:00+00:00"},
         "账号已注销（2026年6月27日起）"),
        ("unreachable", {"outcome": "banned"}, "账号已被封禁"),
        ("unreachable", {"outcome": "not_found"}, "账号无法访问（平台提示不存在）"),
        ("unreachable", {"probes": 140, "failed": 14, "failure_ratio": 0.1, "window_days": 7.0},
         "网站无法访问：7天内14/140次访问失败（10.00%）"),
        ("empty_shell", {"post_count": 0, "followers": 0}, "空壳账号：零发布、零粉丝"),
        ("empty_shell", {"outcome": "empty"}, "空壳账号：无发布内容"),
        ("unverified", {"verified": False}, "账号未认证"),
        ("duplicate", {"other_accounts": 2}, "重复开设：同一主办单位在该平台另有2个账号"),
        ("blind", {"threshold_days": 3}, "连续3天无法监测"),
    ],
)  # fmt: skip
def test_each_problem_in_words(code: str, evidence: dict[str, object], words: str) -> None:
    assert describe(code, evidence) == words


def test_every_code_has_words_and_odd_evidence_does_not_crash() -> None:
    for code in FLAG_LABELS:
        assert describe(code, {})
        assert describe(code, {"last_post_at": None, "threshold_days": "x", "outcome": 3})
        odd = {"last_post_at": "yesterday", "failure_ratio": "most", "first_gone_at": 5}
        assert describe(code, odd)
        assert describe(code, {"outcome": "deleted", "first_gone_at": 5})
