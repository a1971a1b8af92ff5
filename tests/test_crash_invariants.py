"""The crash-run invariants (tests/crash_invariants.py) can fail: a consistent hand-made history
passes, and each thing a crash could break in it is reported."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.accounts.models import Account
from app.checks.models import CheckResult
from app.events.models import OutboxEvent
from app.flags.evaluation import seen
from app.flags.models import Flag, FlagChange
from app.flags.policy import load_policy
from app.flags.rules import AccountFacts, evaluate
from tests.crash_invariants import Stored, check_invariants
from tests.crash_support import POLICY_TOML, CrashPlan, CrashRun, Kill

T0 = datetime(2026, 1, 5, 8, tzinfo=UTC)
FIRST, SECOND = T0 + timedelta(seconds=5), T0 + timedelta(seconds=25)


def _check(check_id: int, at: datetime, days_silent: float) -> CheckResult:
    return CheckResult(
        id=check_id,
        account_id=1,
        platform="weibo",
        checked_at=at,
        outcome="ok",
        outcome_class="alive",
        last_post_at=at - timedelta(days=days_silent),
        followers=100 + check_id,
        post_count=10,
        verified=True,
    )


def _event(event_id: str, type_: str, at: datetime, flag_id: int = 1) -> OutboxEvent:
    payload = json.dumps({"flag": {"id": flag_id}})
    return OutboxEvent(event_id=event_id, type=type_, created_at=at, account_id=1, payload=payload)


def _consistent(tmp_path: Path) -> tuple[CrashRun, Stored]:
    """One weibo account: stale at its first check (20 days silent), posting at its second."""
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY_TOML, encoding="utf-8")
    plan = CrashPlan(backend="sqlite", database_url="sqlite:///unused", seed=1)
    run = CrashRun(plan, started=T0, accounts={1}, policy_path=policy)
    run.kills.append(Kill("serve", T0 + timedelta(seconds=10), {1}, mark=1))
    run.events_before_stop, run.received = {"evt_o", "evt_r"}, ["evt_o", "evt_r", "evt_r"]
    checks = [_check(1, FIRST, 20.0), _check(2, SECOND, 1.0)]
    facts = AccountFacts(1, "weibo", T0)
    evidence = [
        evaluate(facts, [seen(c) for c in reversed(checks[:n])], load_policy(str(policy)),
                 degraded=False, now=checks[n - 1].checked_at)["stale"].evidence
        for n in (1, 2)
    ]  # fmt: skip
    account = Account(
        id=1, platform="weibo", handle="1", name="a", created_at=T0, first_checked_at=FIRST,
        last_checked_at=SECOND, last_outcome="ok", last_post_at=checks[1].last_post_at,
        followers=102, post_count=10, verified=True, unknown_streak=0,
        next_check_at=SECOND + timedelta(seconds=20),
    )  # fmt: skip
    flag = Flag(id=1, account_id=1, platform="weibo", code="stale", state="resolved",
                opened_at=FIRST, resolved_at=SECOND)  # fmt: skip
    changes = [
        FlagChange(id=1, flag_id=1, at=FIRST, change="opened", detail=json.dumps(evidence[0])),
        FlagChange(id=2, flag_id=1, at=SECOND, change="resolved", detail=json.dumps(evidence[1])),
    ]
    events = [_event("evt_o", "flag.opened", FIRST), _event("evt_r", "flag.resolved", SECOND)]
    return run, Stored([account], checks, [flag], changes, events, degraded=set())


def _doubled_check(run: CrashRun, s: Stored) -> None:
    s.checks.append(_check(3, SECOND + timedelta(seconds=2), 1.0))


def _long_silence(run: CrashRun, s: Stored) -> None:
    run.started = T0 - timedelta(minutes=5)


def _half_written(run: CrashRun, s: Stored) -> None:
    s.accounts[0].last_outcome = "error"


def _unscheduled(run: CrashRun, s: Stored) -> None:
    s.accounts[0].next_check_at = SECOND


def _event_lost(run: CrashRun, s: Stored) -> None:
    del s.events[1]


def _event_doubled(run: CrashRun, s: Stored) -> None:
    s.events.append(_event("evt_o2", "flag.opened", FIRST))


def _change_doubled(run: CrashRun, s: Stored) -> None:
    s.changes.append(FlagChange(id=3, flag_id=1, at=FIRST, change="opened"))


def _flag_lost(run: CrashRun, s: Stored) -> None:
    s.flags, s.changes, s.events = [], [], []


def _unexplained(run: CrashRun, s: Stored) -> None:
    s.checks[0].last_post_at = FIRST - timedelta(days=1)


def _two_open(run: CrashRun, s: Stored) -> None:
    for flag_id in (2, 3):
        s.flags.append(Flag(id=flag_id, account_id=1, platform="weibo", code="zombie",
                            state="open", opened_at=SECOND))  # fmt: skip
        s.changes.append(FlagChange(id=flag_id + 1, flag_id=flag_id, at=SECOND, change="opened"))
        s.events.append(_event(f"evt_{flag_id}", "flag.opened", SECOND, flag_id))


def _not_delivered(run: CrashRun, s: Stored) -> None:
    run.received = ["evt_o"]


def _not_rechecked(run: CrashRun, s: Stored) -> None:
    run.kills[-1].mark = 2


@pytest.mark.parametrize(
    ("breakage", "reported"),
    [
        (_doubled_check, "checked twice"),
        (_long_silence, "without a check"),
        (_half_written, "snapshot"),
        (_unscheduled, "next due"),
        (_event_lost, "0 flag.resolved events"),
        (_event_doubled, "2 flag.opened events"),
        (_change_doubled, "2 'opened' changes"),
        (_flag_lost, "flag change lost"),
        (_unexplained, "the checks do not explain"),
        (_two_open, "2 open flags"),
        (_not_delivered, "never reached the receiver"),
        (_not_rechecked, "not checked after the last kill"),
    ],
)
def test_each_breakage_is_reported(
    tmp_path: Path, breakage: Callable[[CrashRun, Stored], None], reported: str
) -> None:
    run, stored = _consistent(tmp_path)
    assert check_invariants(run, stored).problems == [], "the consistent history must pass"
    breakage(run, stored)
    problems = check_invariants(run, stored).problems
    assert any(reported in p for p in problems), problems
