"""The summary against a brute-force count from the flag and account rows, on both databases.

A random registry and flag history (accounts registered and first checked at random times,
some never checked, some archived; flags opened and resolved, some still open, and on some
accounts two flags of one code open at once, as back-dated writes leave them). At many
instants, among them the exact times things happened, every grouping, with and without a
region scope, ``service.summary`` must give what counting the rows in Python gives:
a flag is open at ``at`` when opened_at <= at < resolved_at (or never resolved); the
population is the active accounts registered by ``at``; checked means first checked by
``at``; failing means checked with a single-veto flag open. As of now the open-flag mirror
must give the figures flag history gives at now.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from app.accounts.models import Account
from app.db import Database, utcnow
from app.flags.models import Flag
from app.flags.policy import FLAG_LABELS
from app.flags.service import mirror_on_account
from app.reports import current, service
from app.reports.service import GroupCounts

GROUPINGS = ("region", "organization", "department", "platform")
SCOPES = (None, "2201", "220102", "11")
CODES = tuple(FLAG_LABELS)
REGIONS = {
    "220102": ("长春市南关区", "南关区"),  # two names for one code: the summary shows the greatest
    "220103": ("长春市宽城区",),
    "220201": ("吉林市昌邑区",),
    "110101": ("北京市东城区",),
}
PLATFORMS = ("weibo", "wechat", "douyin", "website")
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Row:
    """An account as the brute force reads it."""

    region_code: str
    region_name: str
    organization: str
    department: str
    platform: str
    status: str
    created_at: datetime
    first_checked_at: datetime | None


@dataclass(frozen=True)
class FlagRow:
    """A flag as the brute force reads it."""

    account: int
    code: str
    veto: bool
    opened_at: datetime
    resolved_at: datetime | None


def _random_history(
    rng: random.Random, start: datetime, end: datetime
) -> tuple[list[Row], list[FlagRow]]:
    span = (end - start).total_seconds()

    def moment(after: datetime = start) -> datetime:
        low = (after - start).total_seconds()
        return start + timedelta(seconds=round(rng.uniform(low, span), 3))

    accounts: list[Row] = []
    for n in range(60):
        code = rng.choice(list(REGIONS))
        created = moment()
        checked = None if rng.random() < 0.15 else moment(created)
        accounts.append(
            Row(
                region_code=code,
                region_name=rng.choice(REGIONS[code]),
                organization=f"{code}机构{rng.randrange(3)}",
                department=rng.choice(["办公室", "宣传部", "教育局"]),
                platform=PLATFORMS[n % len(PLATFORMS)],
                status="archived" if rng.random() < 0.1 else "active",
                created_at=created,
                first_checked_at=checked,
            )
        )
    flags: list[FlagRow] = []
    for index, account in enumerate(accounts):
        for code in rng.sample(CODES, rng.randrange(4)):
            # Episodes of one code in time order; the last may stay open.
            opened = moment(account.created_at)
            while opened < end:
                resolved: datetime | None = opened + rng.uniform(0.5, 20) * DAY
                if resolved >= end or rng.random() < 0.3:
                    resolved = None
                veto = rng.random() < 0.4
                flags.append(FlagRow(index, code, veto, opened, resolved))
                if resolved is None:
                    break
                opened = resolved + rng.uniform(0, 15) * DAY
        latest = end - 12 * DAY
        if account.created_at < latest and rng.random() < 0.2:
            # A resolved flag that overlaps a later one of the same code: both open at once.
            code = rng.choice(CODES)
            opened = account.created_at + (latest - account.created_at) * rng.random()
            closes = opened + rng.uniform(1, 10) * DAY
            later = opened + (closes - opened) / 2
            flags.append(FlagRow(index, code, rng.random() < 0.5, opened, closes))
            flags.append(FlagRow(index, code, rng.random() < 0.5, later, later + DAY))
    return accounts, flags


async def _store(database: Database, accounts: list[Row], flags: list[FlagRow]) -> None:
    ids: list[int] = []
    async with database.write_session() as session:
        for n, row in enumerate(accounts):
            account = Account(
                handle=f"h{n}", name=f"账号{n}", updated_at=row.created_at, **vars(row)
            )
            session.add(account)
            await session.flush()
            assert account.id is not None
            ids.append(account.id)
        open_now: dict[int, list[Flag]] = defaultdict(list)
        for f in flags:
            flag = Flag(
                account_id=ids[f.account],
                platform=accounts[f.account].platform,
                code=f.code,
                state="open" if f.resolved_at is None else "resolved",
                veto=f.veto,
                opened_at=f.opened_at,
                resolved_at=f.resolved_at,
            )
            session.add(flag)
            if f.resolved_at is None:
                open_now[f.account].append(flag)
        for n, account_id in enumerate(ids):
            # As the flag lifecycle leaves it: the as-of-now summary reads this mirror.
            account = await session.get(Account, account_id)
            assert account is not None
            mirror_on_account(session, account, open_now[n])


def _key(row: Row, group_by: str) -> str:
    return {
        "region": row.region_code,
        "organization": row.organization,
        "department": row.department,
        "platform": row.platform,
    }[group_by]


@dataclass
class _Count:
    names: set[str] = field(default_factory=set)
    total: int = 0
    checked: int = 0
    failing: int = 0
    flags: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CODES, 0))

    def figures(self, name: str | None) -> tuple[object, ...]:
        """As ``_figures`` gives a group: name, total, checked, passing, flags."""
        return (name, self.total, self.checked, self.checked - self.failing, self.flags)


def brute_force(
    accounts: list[Row], flags: list[FlagRow], group_by: str, at: datetime, scope: str | None
) -> dict[str | None, tuple[object, ...]]:
    """The summary's figures at ``at`` counted row by row, keyed by group (None: totals)."""
    open_then: dict[int, list[FlagRow]] = defaultdict(list)
    for f in flags:
        if f.opened_at <= at and (f.resolved_at is None or f.resolved_at > at):
            open_then[f.account].append(f)
    groups: dict[str, _Count] = defaultdict(_Count)
    for index, row in enumerate(accounts):
        if row.status != "active" or row.created_at > at:
            continue
        if scope and not row.region_code.startswith(scope):
            continue
        group = groups[_key(row, group_by)]
        group.names.add(row.region_name)
        group.total += 1
        checked = row.first_checked_at is not None and row.first_checked_at <= at
        group.checked += checked
        group.failing += checked and any(f.veto for f in open_then[index])
        for code in {f.code for f in open_then[index]}:
            group.flags[code] += 1
    figures: dict[str | None, tuple[object, ...]] = {}
    totals = _Count()
    for key, group in groups.items():
        figures[key] = group.figures(max(group.names) if group_by == "region" else None)
        totals.total += group.total
        totals.checked += group.checked
        totals.failing += group.failing
        for code, count in group.flags.items():
            totals.flags[code] += count
    figures[None] = totals.figures(None)
    return figures


def _figures(
    groups: list[GroupCounts], totals: GroupCounts
) -> dict[str | None, tuple[object, ...]]:
    return {g.key: (g.name, g.total, g.checked, g.passing, g.flags) for g in [*groups, totals]}


@dataclass(frozen=True)
class History:
    """What the fixture stored, and when two flags of one code were open on one account."""

    accounts: list[Row]
    flags: list[FlagRow]
    start: datetime
    end: datetime
    overlaps: list[datetime]


@pytest.fixture
async def history(database: Database) -> History:
    end = utcnow().replace(microsecond=0) - DAY
    start = end - 120 * DAY
    accounts, flags = _random_history(random.Random(20261204), start, end)
    overlaps = [
        b.opened_at
        for a in flags
        for b in flags
        if a.account == b.account and a.code == b.code and a is not b
        and a.opened_at <= b.opened_at < (a.resolved_at or end)
        and accounts[a.account].status == "active"
    ]  # fmt: skip
    assert len(overlaps) >= 3, "the case the DISTINCT in the flag query is there for"
    await _store(database, accounts, flags)
    return History(accounts, flags, start, end, overlaps)


async def test_past_summary_equals_a_count_of_the_rows(
    database: Database, history: History
) -> None:
    rng = random.Random(17)
    # The instants things happened (a flag opened at ``at`` is open, one resolved is not),
    # one microsecond either side of some, some with two flags of one code open on an
    # account, random ones, and one before anything happened.
    events = [a.created_at for a in history.accounts]
    events += [a.first_checked_at for a in history.accounts]
    events += [f.opened_at for f in history.flags] + [f.resolved_at for f in history.flags]
    exact = rng.sample([e for e in events if e is not None], 11)
    nudged = [e + timedelta(microseconds=rng.choice([-1, 1])) for e in exact[:6]]
    doubled = rng.sample(history.overlaps, 3)
    span = history.end - history.start
    spread = [history.start + span * rng.random() for _ in range(9)]
    instants = [history.start - DAY, *exact, *nudged, *doubled, *spread]
    assert len(instants) == 30
    for at in instants:
        for group_by in GROUPINGS:
            for scope in SCOPES:
                found = await current.summary_as_of(
                    database.read_session, group_by, at, scope_prefix=scope
                )
                expected = brute_force(history.accounts, history.flags, group_by, at, scope)
                assert _figures(*found) == expected, (at, group_by, scope)


async def test_summary_now_equals_flag_history_at_now(database: Database, history: History) -> None:
    now = utcnow()
    for group_by in GROUPINGS:
        for scope in SCOPES:
            mirror = await current.summary_now(database.read_session, group_by, scope)
            at_now = await service.summary(database.read_session, group_by, now, scope_prefix=scope)
            assert mirror == at_now, (group_by, scope)
            expected = brute_force(history.accounts, history.flags, group_by, now, scope)
            assert _figures(*mirror) == expected
