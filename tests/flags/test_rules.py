"""The pure flag rules, at and around their thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.flags.policy import load_policy
from app.flags.rules import AccountFacts, Seen, evaluate
from monitors import Outcome

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
NATIONAL = load_policy("national")
BEIJING = load_policy("beijing-2019")


def facts(platform: str = "weibo", others: int = 0) -> AccountFacts:
    return AccountFacts(
        account_id=1,
        platform=platform,
        created_at=NOW - timedelta(days=400),
        same_organization_accounts=others,
    )


def seen(
    hours_ago: float,
    outcome: Outcome = Outcome.OK,
    *,
    posted_days_ago: float | None = 1,
    check_id: int = 1,
    **kwargs: object,
) -> Seen:
    at = NOW - timedelta(hours=hours_ago)
    posted = at - timedelta(days=posted_days_ago) if posted_days_ago is not None else None
    return Seen(check_id=check_id, checked_at=at, outcome=outcome, last_post_at=posted, **kwargs)  # type: ignore[arg-type]


def decide(
    history: list[Seen],
    platform: str = "weibo",
    policy=NATIONAL,  # type: ignore[no-untyped-def]
    degraded: bool = False,
    others: int = 0,
):
    return evaluate(facts(platform, others), history, policy, degraded=degraded, now=NOW)


@pytest.mark.parametrize(
    ("days", "stale"), [(13.9, False), (14.0, False), (14.01, True), (20, True)]
)
def test_stale_opens_past_14_days_not_before(days: float, stale: bool) -> None:
    decision = decide([seen(0, posted_days_ago=days)])["stale"]
    assert decision.open is stale
    assert decision.evidence["threshold_days"] == 14


@pytest.mark.parametrize(
    ("policy", "days", "zombie"),
    [
        (NATIONAL, 89.9, False),
        (NATIONAL, 90.1, True),
        (BEIJING, 364, False),
        (BEIJING, 366, True),
    ],
)
def test_zombie_threshold_follows_the_policy(policy, days: float, zombie: bool) -> None:  # type: ignore[no-untyped-def]
    assert decide([seen(0, posted_days_ago=days)], policy=policy)["zombie"].open is zombie


def test_unknown_observations_change_nothing_but_blind_and_duplicate() -> None:
    decisions = decide(
        [seen(0, Outcome.BLOCKED, posted_days_ago=None), seen(10, posted_days_ago=30)]
    )
    assert set(decisions) == {"blind", "duplicate"}
    assert decisions["blind"].open is False


def test_blind_after_three_days_without_a_conclusive_answer() -> None:
    history = [seen(h, Outcome.RATE_LIMITED, posted_days_ago=None) for h in (1, 30, 60)]
    history.append(seen(73, posted_days_ago=1))
    assert decide(history)["blind"].open is True
    history[-1] = seen(71, posted_days_ago=1)
    assert decide(history)["blind"].open is False


def test_empty_shell_modes() -> None:
    empty = seen(0, Outcome.EMPTY, posted_days_ago=None, post_count=0, followers=12)
    assert decide([empty])["empty_shell"].open is True
    assert decide([empty], policy=BEIJING)["empty_shell"].open is False  # has followers
    zero = seen(0, Outcome.EMPTY, posted_days_ago=None, post_count=0, followers=0)
    assert decide([zero], policy=BEIJING)["empty_shell"].open is True
    unknown_counts = seen(0, Outcome.EMPTY, posted_days_ago=None)
    assert "empty_shell" not in decide([unknown_counts], policy=BEIJING)
    assert decide([seen(0, post_count=5, followers=9)])["empty_shell"].open is False


def test_unreachable_needs_two_gone_answers_an_hour_apart() -> None:
    one = [seen(0, Outcome.DELETED, posted_days_ago=None)]
    assert "unreachable" not in decide(one)
    close = [
        seen(0, Outcome.DELETED, posted_days_ago=None),
        seen(0.5, Outcome.NOT_FOUND, posted_days_ago=None),
    ]
    assert "unreachable" not in decide(close)
    apart = [
        seen(0, Outcome.DELETED, posted_days_ago=None, check_id=9),
        seen(0.5, Outcome.BLOCKED, posted_days_ago=None),
        seen(1.2, Outcome.DELETED, posted_days_ago=None, check_id=7),
    ]
    decision = decide(apart)["unreachable"]
    assert decision.open is True and decision.evidence["gone_observations"] == 2
    assert decision.evidence["check_id"] == 9
    assert "unreachable" not in decide(apart, degraded=True)  # held while degraded
    back = [seen(0), *apart]
    assert decide(back)["unreachable"].open is False
    unknown_last = [seen(0, Outcome.ERROR, posted_days_ago=None), *apart]
    assert "unreachable" not in decide(unknown_last)


def test_unreachable_waits_for_a_canary_verdict_after_the_first_gone_answer() -> None:
    """Regression (bench/soak.py): a platform that began denying every account exists right
    after a canary verdict had accounts' gone answers confirmed before the next verdict could
    mark it degraded, and false unreachable flags opened on alive accounts."""
    apart = [
        seen(0, Outcome.DELETED, posted_days_ago=None, check_id=9),
        seen(1.2, Outcome.NOT_FOUND, posted_days_ago=None, check_id=7),
    ]
    first_gone = NOW - timedelta(hours=1.2)

    def with_canaries(history: list[Seen], at: datetime, degraded: bool = False):  # type: ignore[no-untyped-def]
        return evaluate(facts(), history, NATIONAL, degraded=degraded, now=NOW, canaries_at=at)

    assert "unreachable" not in with_canaries(apart, first_gone - timedelta(seconds=1))
    assert with_canaries(apart, first_gone)["unreachable"].open is True
    assert with_canaries(apart, first_gone + timedelta(minutes=30))["unreachable"].open is True
    assert "unreachable" not in with_canaries(apart, NOW, degraded=True)
    assert decide(apart)["unreachable"].open is True  # a platform without canaries: as before
    # An alive answer resolves whatever the canaries last said.
    back = with_canaries([seen(0), *apart], first_gone - timedelta(days=1))
    assert back["unreachable"].open is False


def _probes(total: int, failed: int, refused: int = 0) -> list[Seen]:
    history = []
    for i in range(total + refused):
        outcome = Outcome.OK
        if i < failed:
            outcome = Outcome.ERROR
        elif i < failed + refused:
            outcome = Outcome.BLOCKED
        history.append(seen(i * 7 * 24 / (total + refused + 1), outcome, check_id=i))
    return history


def test_website_unreachable_is_five_percent_of_enough_probes() -> None:
    assert decide(_probes(140, 7), platform="website")["unreachable"].open is True
    assert decide(_probes(140, 6), platform="website")["unreachable"].open is False
    # Refusals (WAF, rate limits) are not failed probes, nor probes at all.
    assert decide(_probes(140, 6, refused=30), platform="website")["unreachable"].open is False
    assert "unreachable" not in decide(_probes(100, 50), platform="website")  # too few probes
    assert "unreachable" not in decide(_probes(140, 30), platform="website", degraded=True)


def test_platform_scope_of_rules() -> None:
    app = decide([seen(0, posted_days_ago=400)], platform="appstore")
    assert app["app_outdated"].open is True
    assert "stale" not in app and "zombie" not in app
    assert "app_outdated" not in decide([seen(0, posted_days_ago=400)])


def test_unverified_and_duplicate() -> None:
    assert decide([seen(0, verified=False)])["unverified"].open is True
    assert decide([seen(0, verified=True)])["unverified"].open is False
    assert "unverified" not in decide([seen(0)])
    assert "unverified" not in decide([seen(0, verified=False)], platform="wechat")
    assert decide([seen(0)], others=1)["duplicate"].open is True


def test_private_accounts_are_not_judged_on_posts() -> None:
    decisions = decide([seen(0, Outcome.PRIVATE, posted_days_ago=None)])
    assert not {"stale", "zombie", "empty_shell"} & set(decisions)
