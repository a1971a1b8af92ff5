"""A fixed registry, check and flag history whose inspection figures are worked out by hand.

Times are UTC, 2026. The time point T = 06-30 00:00 (08:00 in China); T2 = 07-10 00:00.

| acct | region | organization | dept | platform | status   | flags (veto*)        |
|------|--------|--------------|------|----------|----------|----------------------|
| B1   | 220102 | 南关区政府   | 办公室 | weibo    | active   | -                    |
| B2   | 220102 | 南关区政府   | 办公室 | wechat   | active   | stale* 06-20..07-05  |
| B3   | 220102 | 南关区教育局 | 教育   | douyin   | active   | unreachable* 06-28.. |
| B4   | 220103 | 宽城区政府   | 办公室 | weibo    | active   | zombie 06-05..       |
| B5   | 220103 | 宽城区政府   | 办公室 | website  | active   | unverified 06-10..   |
| B6   | 220103 | 宽城区教育局 | 教育   | weibo    | active   | -                    |
| B7   | 110101 | 东城区政府   | 办公室 | weibo    | active   | stale* 06-10..06-25  |
| B8   | 220102 | 南关区政府   | 办公室 | rss      | archived | -                    |
| B9   | 220102 | 南关区政府   | 办公室 | weibo    | active   | -                    |
| B10  | 220102 | 南关区政府   | 办公室 | weibo    | active   | stale* 07-02..       |

All were registered on 06-01 and first checked on 06-02, but B6 (never checked) and B9
(registered and first checked on 07-05).
Checks: every checked account has one on its first-check day (ok, last post the day
before). B2 also on 06-20 (ok, last post 06-10: the check that opened its stale flag) and on
07-01 (after T, last post 07-01). B3 on 06-27 (deleted, no post: the check behind its
unreachable flag). The levels: B8 municipal, the others county.

At T: population B1-B7, B10 (8; B8 archived, B9 not registered yet); checked 7 (not B6);
failing B2, B3; passing 5; pass rate 5/7 = 71.43%.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from app.accounts.models import Account
from app.checks.models import CheckResult
from app.db import Database
from app.flags.models import Flag
from app.flags.service import mirror_on_account

T = datetime(2026, 6, 30, tzinfo=UTC)
T2 = datetime(2026, 7, 10, tzinfo=UTC)


def day(month: int, d: int) -> datetime:
    return datetime(2026, month, d, tzinfo=UTC)


# name: region, region name, organization, department, platform, created, first checked, status
ACCOUNTS: dict[str, tuple[str, str, str, str, str, datetime, datetime | None, str]] = {
    "B1": ("220102", "南关区", "南关区政府", "办公室", "weibo", day(6, 1), day(6, 2), "active"),
    "B2": ("220102", "南关区", "南关区政府", "办公室", "wechat", day(6, 1), day(6, 2), "active"),
    "B3": ("220102", "南关区", "南关区教育局", "教育", "douyin", day(6, 1), day(6, 2), "active"),
    "B4": ("220103", "宽城区", "宽城区政府", "办公室", "weibo", day(6, 1), day(6, 2), "active"),
    "B5": ("220103", "宽城区", "宽城区政府", "办公室", "website", day(6, 1), day(6, 2), "active"),
    "B6": ("220103", "宽城区", "宽城区教育局", "教育", "weibo", day(6, 1), None, "active"),
    "B7": ("110101", "东城区", "东城区政府", "办公室", "weibo", day(6, 1), day(6, 2), "active"),
    "B8": ("220102", "南关区", "南关区政府", "办公室", "rss", day(6, 1), day(6, 2), "archived"),
    "B9": ("220102", "南关区", "南关区政府", "办公室", "weibo", day(7, 5), day(7, 5), "active"),
    "B10": ("220102", "南关区", "南关区政府", "办公室", "weibo", day(6, 1), day(6, 2), "active"),
}
HANDLES = {
    "weibo": "10000000{}",
    "wechat": "gh_abcdef12345{}",
    "douyin": "MS4wLjABAAAA{}",
    "website": "https://www{}.example.gov.cn/",
    "rss": "https://feeds{}.example.gov.cn/rss.xml",
}
# account, checked at, outcome, last post
EXTRA_CHECKS = [
    ("B2", day(6, 20), "ok", day(6, 10)),
    ("B2", day(7, 1), "ok", day(7, 1)),
    ("B3", day(6, 27), "deleted", None),
]
# account, code, veto, opened, resolved, evidence (``check`` names the check it cites)
FLAGS: list[tuple[str, str, bool, datetime, datetime | None, dict[str, object]]] = [
    ("B2", "stale", True, day(6, 20), day(7, 5), {"check": ("B2", day(6, 20)),
     "last_post_at": "2026-06-10T00:00:00+00:00", "threshold_days": 14}),
    ("B3", "unreachable", True, day(6, 28), None, {"check": ("B3", day(6, 27)),
     "outcome": "deleted", "first_gone_at": "2026-06-27T00:00:00+00:00"}),
    ("B4", "zombie", False, day(6, 5), None, {"check": ("B4", day(6, 2)),
     "last_post_at": "2026-03-01T00:00:00+00:00", "threshold_days": 90}),
    ("B5", "unverified", False, day(6, 10), None, {"check": ("B5", day(6, 2)), "verified": False}),
    ("B7", "stale", True, day(6, 10), day(6, 25), {"check": ("B7", day(6, 2))}),
    ("B10", "stale", True, day(7, 2), None, {"check": ("B10", day(6, 2))}),
]  # fmt: skip


@dataclass(frozen=True)
class History:
    """The ids the history was written with."""

    accounts: dict[str, int]
    checks: dict[tuple[str, datetime], int]
    flags: dict[tuple[str, str], int]


async def seed_history(database: Database) -> History:
    """Write the accounts, checks and flags above."""
    ids: dict[str, int] = {}
    checks: dict[tuple[str, datetime], int] = {}
    flag_ids: dict[tuple[str, str], int] = {}
    async with database.write_session() as session:
        for n, (name, row) in enumerate(ACCOUNTS.items()):
            code, region_name, org, dept, platform, created, checked, status = row
            account = Account(
                platform=platform,
                handle=HANDLES[platform].format(n),
                name=f"账号{name}",
                organization=org,
                region_code=code,
                region_name=region_name,
                department=dept,
                level="municipal" if name == "B8" else "county",
                status=status,
                created_at=created,
                updated_at=created,
                first_checked_at=checked,
                last_checked_at=checked,
            )
            session.add(account)
            await session.flush()
            assert account.id is not None
            ids[name] = account.id
        made = [
            (name, row[6], "ok", row[6].replace(day=row[6].day - 1))
            for name, row in ACCOUNTS.items()
            if row[6] is not None
        ]
        for name, at, outcome, last_post in sorted([*made, *EXTRA_CHECKS], key=lambda c: c[1]):
            check = CheckResult(
                account_id=ids[name],
                platform=ACCOUNTS[name][4],
                checked_at=at,
                outcome=outcome,
                outcome_class="gone" if outcome == "deleted" else "alive",
                last_post_at=last_post,
            )
            session.add(check)
            await session.flush()
            assert check.id is not None
            checks[(name, at)] = check.id
        still_open: dict[str, list[Flag]] = {name: [] for name in ACCOUNTS}
        for name, code, veto, opened, resolved, evidence in FLAGS:
            cited = evidence.get("check")
            stored = {k: v for k, v in evidence.items() if k != "check"}
            if isinstance(cited, tuple):
                stored = {"check_id": checks[cited], **stored}
            flag = Flag(
                account_id=ids[name],
                platform=ACCOUNTS[name][4],
                code=code,
                state="resolved" if resolved else "open",
                veto=veto,
                rule="days=14",
                source="国办秘函〔2019〕19号",
                opened_at=opened,
                resolved_at=resolved,
                evidence=json.dumps(stored),
            )
            session.add(flag)
            await session.flush()
            assert flag.id is not None
            flag_ids[(name, code)] = flag.id
            if resolved is None:
                still_open[name].append(flag)
        for name, flags in still_open.items():
            account = await session.get(Account, ids[name])
            assert account is not None
            mirror_on_account(session, account, flags)
    return History(ids, checks, flag_ids)
