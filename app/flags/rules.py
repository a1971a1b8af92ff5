"""The flag rules (DESIGN §6) as pure functions: no I/O, ``now`` passed in.

``evaluate`` looks at one account, its recent observations (newest first) and the policy, and
says for each flag whether it should be open (True), resolved (False) or left as it is
(absent). Observations of the unknown class change nothing, except where the official rule is
built on failed probes (websites' 无法访问). While a platform is degraded, no flag that rests
on a gone outcome opens, nor before its canaries have answered since the first gone answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.flags.policy import FlagRule, Policy
from monitors import Outcome

__all__ = ["AccountFacts", "Decision", "Seen", "evaluate"]

# Website probes that tell nothing of the site: we were refused, not the site unreachable.
_NOT_A_PROBE = {Outcome.BLOCKED, Outcome.RATE_LIMITED, Outcome.AUTH_REQUIRED}


@dataclass(frozen=True, slots=True)
class Seen:
    """One stored observation, as the rules need it."""

    check_id: int
    checked_at: datetime
    outcome: Outcome
    last_post_at: datetime | None = None
    followers: int | None = None
    post_count: int | None = None
    verified: bool | None = None


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """The account, and registry facts the rules need."""

    account_id: int
    platform: str
    created_at: datetime
    same_organization_accounts: int = 0  # other active accounts of its organization here


@dataclass(frozen=True, slots=True)
class Decision:
    """Open or resolve a flag, with the evidence that decided it."""

    open: bool
    evidence: dict[str, Any] = field(default_factory=dict)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _silence_rule(rule: FlagRule, seen: Seen, days: float) -> Decision:
    """Stale, zombie and app_outdated: open when nothing was posted in ``days`` before the
    check. The window is counted back from the check time (监测时间点)."""
    cutoff = seen.checked_at - timedelta(days=days)
    silent = seen.last_post_at is None or seen.last_post_at < cutoff
    days_silent = (
        round((seen.checked_at - seen.last_post_at).total_seconds() / 86400, 1)
        if seen.last_post_at
        else None
    )
    return Decision(
        silent,
        {
            "check_id": seen.check_id,
            "checked_at": _iso(seen.checked_at),
            "last_post_at": _iso(seen.last_post_at),
            "days_silent": days_silent,
            "threshold_days": days,
        },
    )


def _empty_shell(rule: FlagRule, seen: Seen) -> Decision | None:
    zero_zero = seen.post_count == 0 and seen.followers == 0
    if rule.param("mode") == "zero_posts_and_followers":
        if seen.post_count is None or seen.followers is None:
            return None
        shell = zero_zero
    else:
        shell = seen.outcome is Outcome.EMPTY or zero_zero
    return Decision(
        shell,
        {
            "check_id": seen.check_id,
            "checked_at": _iso(seen.checked_at),
            "outcome": seen.outcome.value,
            "post_count": seen.post_count,
            "followers": seen.followers,
            "mode": rule.param("mode"),
        },
    )


def _unreachable(
    rule: FlagRule, history: Sequence[Seen], degraded: bool, canaries_at: datetime | None
) -> Decision | None:
    """Gone, confirmed by enough gone answers spanning enough time since the last alive one.

    A platform that starts denying every account exists right after a canary verdict (a block
    disguised as absence) would have its gone answers confirmed before the next verdict
    notices; so, where the platform has canaries, the flag waits for a verdict given after
    the first gone answer of the streak (one that did not find the platform degraded)."""
    streak: list[Seen] = []
    for seen in history:
        if seen.outcome.is_alive:
            break
        if seen.outcome.is_gone:
            streak.append(seen)
    if history and history[0].outcome.is_alive:
        return Decision(False, {"check_id": history[0].check_id, "outcome": "alive"})
    if not streak or history[0].outcome.is_unknown:
        return None
    span = streak[0].checked_at - streak[-1].checked_at
    confirmed = len(streak) >= int(rule.param("gone_observations")) and span >= timedelta(
        hours=float(rule.param("min_span_hours"))
    )
    unvouched = canaries_at is not None and canaries_at < streak[-1].checked_at
    if not confirmed or degraded or unvouched:
        return None
    return Decision(
        True,
        {
            "check_id": streak[0].check_id,
            "outcome": streak[0].outcome.value,
            "gone_observations": len(streak),
            "first_gone_at": _iso(streak[-1].checked_at),
            "last_gone_at": _iso(streak[0].checked_at),
        },
    )


def _website_unreachable(
    rule: FlagRule, history: Sequence[Seen], degraded: bool, now: datetime
) -> Decision | None:
    """W2: failed probes ≥ ratio of all probes over the window, with enough probes a day."""
    days = float(rule.param("website_window_days"))
    window = [s for s in history if s.checked_at >= now - timedelta(days=days)]
    probes = [s for s in window if s.outcome not in _NOT_A_PROBE]
    if len(probes) < float(rule.param("website_probes_per_day")) * days:
        return None
    failed = [s for s in probes if not s.outcome.is_alive]
    ratio = len(failed) / len(probes)
    failing = ratio >= float(rule.param("website_failure_ratio"))
    if failing and degraded:
        return None
    return Decision(
        failing,
        {
            "check_id": probes[0].check_id,
            "probes": len(probes),
            "failed": len(failed),
            "failure_ratio": round(ratio, 4),
            "window_days": days,
        },
    )


def _blind(
    rule: FlagRule, history: Sequence[Seen], account: AccountFacts, now: datetime
) -> Decision:
    conclusive = next((s for s in history if not s.outcome.is_unknown), None)
    since = conclusive.checked_at if conclusive else account.created_at
    blind = now - since >= timedelta(days=float(rule.param("days")))
    return Decision(
        blind,
        {
            "last_conclusive_at": _iso(conclusive.checked_at if conclusive else None),
            "last_outcome": history[0].outcome.value if history else None,
            "threshold_days": rule.param("days"),
        },
    )


def evaluate(
    account: AccountFacts,
    history: Sequence[Seen],
    policy: Policy,
    *,
    degraded: bool,
    now: datetime,
    canaries_at: datetime | None = None,
) -> dict[str, Decision]:
    """The flag changes ``history`` (newest first) calls for on ``account``.

    ``degraded`` and ``canaries_at`` are the platform's last canary verdict and its time
    (None: the platform's canaries have never answered, or it has none)."""
    decisions: dict[str, Decision] = {}

    def rule(code: str) -> FlagRule | None:
        return policy.rule(code, account.platform)

    if (r := rule("duplicate")) is not None:
        decisions["duplicate"] = Decision(
            account.same_organization_accounts > 0,
            {"other_accounts": account.same_organization_accounts},
        )
    if (r := rule("blind")) is not None:
        decisions["blind"] = _blind(r, history, account, now)
    if (r := rule("unreachable")) is not None:
        verdict = (
            _website_unreachable(r, history, degraded, now)
            if account.platform == "website"
            else _unreachable(r, history, degraded, canaries_at)
        )
        if verdict is not None:
            decisions["unreachable"] = verdict
    if not history or not history[0].outcome.is_alive:
        return decisions
    latest = history[0]
    if latest.outcome is not Outcome.PRIVATE:
        for code in ("stale", "zombie", "app_outdated"):
            if (r := rule(code)) is not None:
                decisions[code] = _silence_rule(r, latest, float(r.param("days")))
        if (r := rule("empty_shell")) is not None and (
            shell := _empty_shell(r, latest)
        ) is not None:
            decisions["empty_shell"] = shell
    if (r := rule("unverified")) is not None and latest.verified is not None:
        decisions["unverified"] = Decision(
            not latest.verified, {"check_id": latest.check_id, "verified": latest.verified}
        )
    return decisions
