"""What must hold in the database after a crash run (tests/crash_support.py), whatever the kills.

- Checks: no account checked twice for one due time. Every stored check moves the account's
  next due time one interval (less the jitter) ahead and releases its lease in the same
  transaction, so two check rows of one account closer than that can only be one claim
  stored twice. Nor may an account go unchecked longer than an interval, a lease and the slack.
- Flags and events: each flag has exactly one 'opened' change, one 'resolved' change if it is
  resolved, and each of those changes exactly one outbox event of its type at the same time;
  no event without its change; at most one open flag per (account, code).
- Nothing half-written: each account's snapshot is its newest check row (outcome, time, the
  newest known counts), its unknown streak counts its trailing unknown rows, and its next due
  time is one interval after that check.
- Nothing lost or doubled: replaying the stored checks through the pure rules gives exactly
  the stored flag changes, evidence included.
- Webhooks: every event present before the stop reached the receiver (at least once).
"""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import create_engine
from sqlmodel import Session, col, select

from app.accounts.models import Account
from app.checks.models import CheckResult, PlatformHealth
from app.events.models import OutboxEvent
from app.flags.evaluation import seen
from app.flags.models import Flag, FlagChange
from app.flags.policy import load_policy
from app.flags.rules import AccountFacts, Seen, evaluate
from monitors import Outcome
from tests.crash_support import CrashRun, sync_url


@dataclass
class Stored:
    """Every row the invariants look at, read after the processes stopped."""

    accounts: list[Account]
    checks: list[CheckResult]
    flags: list[Flag]
    changes: list[FlagChange]
    events: list[OutboxEvent]
    degraded: set[str]


@dataclass
class Findings:
    """Counts for the figures, and every broken invariant as a readable line."""

    checks: int = 0
    flag_changes: int = 0
    resolved_changes: int = 0
    flag_events: int = 0
    duplicates: int = 0
    lost_changes: int = 0
    extra_changes: int = 0
    problems: list[str] = field(default_factory=list)


def read_stored(database_url: str) -> Stored:
    """Read the tables back (synchronously, ordered by id)."""
    engine = create_engine(sync_url(database_url))
    try:
        with Session(engine) as s:
            return Stored(
                accounts=list(s.exec(select(Account).order_by(col(Account.id))).all()),
                checks=list(s.exec(select(CheckResult).order_by(col(CheckResult.id))).all()),
                flags=list(s.exec(select(Flag).order_by(col(Flag.id))).all()),
                changes=list(s.exec(select(FlagChange).order_by(col(FlagChange.id))).all()),
                events=list(s.exec(select(OutboxEvent).order_by(col(OutboxEvent.id))).all()),
                degraded={h.platform for h in s.exec(select(PlatformHealth)).all() if h.degraded},
            )
    finally:
        engine.dispose()


def check_invariants(run: CrashRun, stored: Stored) -> Findings:
    """Every invariant above over ``stored``; the findings list what broke."""
    found = Findings(checks=len(stored.checks))
    by_account: dict[int, list[CheckResult]] = defaultdict(list)
    for row in stored.checks:
        by_account[row.account_id].append(row)
    _checks(run, stored, by_account, found)
    _snapshots(run, stored, by_account, found)
    _flags_and_events(stored, found)
    _replay(run, stored, by_account, found)
    missing = run.events_before_stop - set(run.received)
    if missing:
        found.problems.append(f"{len(missing)} events never reached the receiver")
    return found


def _checks(
    run: CrashRun, stored: Stored, by_account: dict[int, list[CheckResult]], found: Findings
) -> None:
    plan = run.plan
    closest = timedelta(seconds=plan.interval_s * (1 - plan.jitter) - 0.5)
    longest = timedelta(seconds=plan.recheck_bound_s)
    for account in stored.accounts:
        assert account.id is not None
        times = [run.started] + [row.checked_at for row in by_account.get(account.id, [])]
        for earlier, later in itertools.pairwise(times[1:]):
            if later - earlier < closest:
                found.duplicates += 1
                found.problems.append(f"account {account.id} checked twice: {earlier} and {later}")
        for earlier, later in itertools.pairwise(times):
            if later - earlier > longest:
                found.problems.append(
                    f"account {account.id} went {later - earlier} without a check ({earlier})"
                )
        rows = by_account.get(account.id, [])
        if not any((row.id or 0) > run.kills[-1].mark for row in rows):
            found.problems.append(f"account {account.id} not checked after the last kill")


def _snapshots(
    run: CrashRun, stored: Stored, by_account: dict[int, list[CheckResult]], found: Findings
) -> None:
    interval = run.plan.interval_s
    for account in stored.accounts:
        assert account.id is not None
        rows = by_account.get(account.id, [])
        if not rows:
            continue
        newest = rows[-1]
        alive = [r for r in rows if Outcome(r.outcome).is_alive]
        streak = 0
        for row in reversed(rows):
            if not Outcome(row.outcome).is_unknown:
                break
            streak += 1
        expected: dict[str, Any] = {
            "last_checked_at": newest.checked_at,
            "first_checked_at": rows[0].checked_at,
            "last_outcome": newest.outcome,
            "unknown_streak": streak,
            "last_post_at": _newest_known(alive, "last_post_at"),
            "followers": _newest_known(alive, "followers"),
            "post_count": _newest_known(alive, "post_count"),
        }
        wrong = {
            name: (getattr(account, name), value)
            for name, value in expected.items()
            if getattr(account, name) != value
        }
        if wrong:
            found.problems.append(f"account {account.id} snapshot (stored, newest check): {wrong}")
        gap = (account.next_check_at or newest.checked_at) - newest.checked_at
        low, high = interval * (1 - run.plan.jitter) - 0.5, interval * (1 + run.plan.jitter) + 15
        if not low <= gap.total_seconds() <= high:
            found.problems.append(f"account {account.id} next due {gap} after its last check")


def _newest_known(rows: list[CheckResult], name: str) -> Any:
    return next((getattr(r, name) for r in reversed(rows) if getattr(r, name) is not None), None)


def _flags_and_events(stored: Stored, found: Findings) -> None:
    flags = {flag.id: flag for flag in stored.flags}
    changes: dict[tuple[int, str], list[FlagChange]] = defaultdict(list)
    for change in stored.changes:
        changes[(change.flag_id, change.change)].append(change)
    events: dict[tuple[int, str], list[OutboxEvent]] = defaultdict(list)
    for event in stored.events:
        if event.type.startswith("flag."):
            flag_id = json.loads(event.payload)["flag"]["id"]
            events[(flag_id, event.type.removeprefix("flag."))].append(event)
            found.flag_events += 1
    found.flag_changes = sum(len(v) for k, v in changes.items() if k[1] in ("opened", "resolved"))
    found.resolved_changes = sum(len(v) for k, v in changes.items() if k[1] == "resolved")
    open_per_code = Counter((f.account_id, f.code) for f in stored.flags if f.state == "open")
    for key, count in open_per_code.items():
        if count > 1:
            found.problems.append(f"{count} open flags for account and code {key}")
    for flag_id, flag in flags.items():
        assert flag_id is not None
        wanted = {"opened": 1, "resolved": 1 if flag.state == "resolved" else 0}
        for change, count in wanted.items():
            rows = changes.get((flag_id, change), [])
            sent = events.get((flag_id, change), [])
            if len(rows) != count or len(sent) != count:
                found.problems.append(
                    f"flag {flag_id} ({flag.state}): {len(rows)} '{change}' changes and "
                    f"{len(sent)} flag.{change} events, expected {count}"
                )
            elif rows and (
                sent[0].created_at != rows[0].at or sent[0].account_id != flag.account_id
            ):
                found.problems.append(f"flag {flag_id}: the flag.{change} event does not match")
        opened = changes.get((flag_id, "opened"), [])
        if opened and opened[0].at != flag.opened_at:
            found.problems.append(f"flag {flag_id} opened_at differs from its 'opened' change")
    for flag_id, _change in events:
        if flag_id not in flags:
            found.problems.append(f"an event names flag {flag_id}, which does not exist")


def _replay(
    run: CrashRun, stored: Stored, by_account: dict[int, list[CheckResult]], found: Findings
) -> None:
    """The stored flag changes must be exactly those the rules give for the stored checks."""
    policy = load_policy(str(run.policy_path))
    code_of = {flag.id: (flag.account_id, flag.code) for flag in stored.flags}
    actual: Counter[tuple[int, str, str, str]] = Counter()
    for change in stored.changes:
        if change.change in ("opened", "resolved"):
            account_id, code = code_of[change.flag_id]
            actual[(account_id, code, change.change, _canonical(json.loads(change.detail)))] += 1
    expected: Counter[tuple[int, str, str, str]] = Counter()
    for account in stored.accounts:
        assert account.id is not None
        facts = AccountFacts(account.id, account.platform, account.created_at)
        open_codes: set[str] = set()
        history: list[Seen] = []
        for row in by_account.get(account.id, []):
            history.insert(0, seen(row))
            decisions = evaluate(
                facts,
                history,
                policy,
                degraded=account.platform in stored.degraded,
                now=row.checked_at,
            )
            for code, decision in decisions.items():
                if decision.open == (code in open_codes):
                    continue
                change = "opened" if decision.open else "resolved"
                open_codes.symmetric_difference_update({code})
                expected[(account.id, code, change, _canonical(decision.evidence))] += 1
    lost, extra = expected - actual, actual - expected
    found.lost_changes, found.extra_changes = sum(lost.values()), sum(extra.values())
    for key in list(lost)[:10]:
        found.problems.append(f"flag change lost: {key}")
    for key in list(extra)[:10]:
        found.problems.append(f"flag change the checks do not explain: {key}")


def _canonical(evidence: dict[str, Any]) -> str:
    return json.dumps(evidence, ensure_ascii=False, default=str, sort_keys=True)
