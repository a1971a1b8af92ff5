"""A fixed registry and flag history whose report figures are worked out by hand in the tests.

Times (UTC, March 2026): T1 = 03-10 00:00 and T2 = 03-20 00:00 are the two time points.

| acct | region | platform | created | first checked | status   |
|------|--------|----------|---------|---------------|----------|
| A1   | 220102 | weibo    | 03-01   | 03-02         | active   |
| A2   | 220102 | wechat   | 03-01   | 03-02         | active   |
| A3   | 220102 | douyin   | 03-01   | 03-15         | active   |
| A4   | 220103 | weibo    | 03-01   | 03-02         | active   |
| A5   | 220103 | website  | 03-12   | 03-12         | active   |
| A6   | 110101 | weibo    | 03-01   | 03-02         | active   |
| A7   | 110101 | weibo    | 03-01   | 03-02         | archived |
| A8   | 220102 | rss      | 03-01   | never         | active   |

| flag | acct | code         | veto | opened      | resolved    |
|------|------|--------------|------|-------------|-------------|
| F1   | A1   | stale        | yes  | 03-05       | 03-15       |
| F2   | A2   | unreachable  | yes  | 03-08       | -           |
| F3   | A2   | stale        | yes  | 03-09       | 03-25       |
| F4   | A4   | zombie       | no   | 03-01       | -           |
| F5   | A6   | stale        | yes  | 03-15       | -           |
| F6   | A5   | empty_shell  | no   | 03-12       | -           |
| F7   | A7   | stale        | yes  | 03-05       | -           |
| F8   | A4   | unverified   | no   | 03-20 00:00 | -           |  opened at T2: open
| F9   | A6   | zombie       | no   | 03-02       | 03-10 00:00 |  resolved at T1: shut
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from app.accounts.models import Account
from app.db import Database
from app.flags.models import Flag
from app.flags.service import mirror_on_account

T1 = datetime(2026, 3, 10, tzinfo=UTC)
T2 = datetime(2026, 3, 20, tzinfo=UTC)
INJECTION = '=HYPERLINK("http://x")'


def day(d: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, d, hour, tzinfo=UTC)


ACCOUNTS = {
    "A1": ("220102", "长春市南关区", "南关区政府", "weibo", day(1), day(2), "active"),
    "A2": ("220102", "长春市南关区", "南关区政府", "wechat", day(1), day(2), "active"),
    "A3": ("220102", "长春市南关区", "南关区教育局", "douyin", day(1), day(15), "active"),
    "A4": ("220103", "长春市宽城区", "宽城区政府", "weibo", day(1), day(2), "active"),
    "A5": ("220103", "长春市宽城区", "宽城区政府", "website", day(12), day(12), "active"),
    "A6": ("110101", "北京市东城区", "东城区政府", "weibo", day(1), day(2), "active"),
    "A7": ("110101", "北京市东城区", "东城区政府", "weibo", day(1), day(2), "archived"),
    "A8": ("220102", "长春市南关区", "南关区政府", "rss", day(1), None, "active"),
}
FLAGS = [
    ("A1", "stale", True, day(5), day(15)),
    ("A2", "unreachable", True, day(8), None),
    ("A2", "stale", True, day(9), day(25)),
    ("A4", "zombie", False, day(1), None),
    ("A6", "stale", True, day(15), None),
    ("A5", "empty_shell", False, day(12), None),
    ("A7", "stale", True, day(5), None),
    ("A4", "unverified", False, day(20), None),
    ("A6", "zombie", False, day(2), day(10)),
]
HANDLES = {
    "weibo": "10000000{}",
    "wechat": "gh_abcdef12345{}",
    "douyin": "MS4wLjABAAAA{}",
    "website": "https://www{}.example.gov.cn/",
    "rss": "https://feeds{}.example.gov.cn/rss.xml",
}


async def seed_registry(database: Database) -> dict[str, int]:
    """Insert the accounts and flags above; returns the account ids by name."""
    ids: dict[str, int] = {}
    async with database.write_session() as session:
        for n, (name, row) in enumerate(ACCOUNTS.items()):
            code, region_name, org, platform, created, checked, status = row
            account = Account(
                platform=platform,
                handle=HANDLES[platform].format(n),
                name=INJECTION if name == "A2" else f"账号{name}",
                organization=org,
                region_code=code,
                region_name=region_name,
                department="办公室",
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
        open_by_account: dict[str, list[Flag]] = {name: [] for name in ACCOUNTS}
        for name, code, veto, opened, resolved in FLAGS:
            flag = Flag(
                account_id=ids[name],
                platform=ACCOUNTS[name][3],
                code=code,
                state="resolved" if resolved else "open",
                veto=veto,
                rule="days=14",
                source="国办秘函〔2019〕19号",
                opened_at=opened,
                resolved_at=resolved,
                evidence=json.dumps({"observation": f"{name}-{code}"}),
            )
            session.add(flag)
            if resolved is None:
                open_by_account[name].append(flag)
        # As the flag lifecycle would have left them.
        for name, flags in open_by_account.items():
            account = await session.get(Account, ids[name])
            assert account is not None
            mirror_on_account(session, account, flags)
    return ids
