"""When an account is next due: pure timing rules."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from app.scheduling.policy import Cadence, first_due, next_due, phase_offset
from monitors import Outcome

NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
CADENCE = Cadence(interval_s=6 * 3600, jitter=0.0, gone_confirm_delay_s=3600, unknown_backoff_s=300)


def _due(outcome: Outcome, **kwargs: object) -> float:
    args: dict[str, object] = {
        "previous_outcome": "ok",
        "unknown_streak": 0,
        "retry_after_s": None,
        "cadence": CADENCE,
        "now": NOW,
    }
    args.update(kwargs)
    return (next_due(outcome=outcome, **args) - NOW).total_seconds()  # type: ignore[arg-type]


def test_alive_waits_one_interval() -> None:
    assert _due(Outcome.OK) == 6 * 3600
    assert _due(Outcome.EMPTY) == 6 * 3600


def test_first_gone_is_confirmed_after_the_delay_then_normal() -> None:
    assert _due(Outcome.NOT_FOUND, previous_outcome="ok") == 3600
    assert _due(Outcome.DELETED, previous_outcome=None) == 3600
    assert _due(Outcome.BANNED, previous_outcome="deleted") == 6 * 3600


@pytest.mark.parametrize(("streak", "expected"), [(1, 300), (2, 600), (3, 1200), (10, 6 * 3600)])
def test_unknown_backs_off_exponentially_up_to_the_interval(streak: int, expected: int) -> None:
    assert _due(Outcome.BLOCKED, unknown_streak=streak) == expected


def test_retry_after_is_honoured_but_capped() -> None:
    assert _due(Outcome.RATE_LIMITED, unknown_streak=1, retry_after_s=1800) == 1800
    assert _due(Outcome.RATE_LIMITED, unknown_streak=1, retry_after_s=60) == 300
    assert _due(Outcome.RATE_LIMITED, unknown_streak=1, retry_after_s=10**9) == 6 * 3600


def test_jitter_stays_within_its_fraction() -> None:
    cadence = Cadence(interval_s=1000, jitter=0.1, gone_confirm_delay_s=60, unknown_backoff_s=60)
    rng = random.Random(7)
    delays = [
        (
            next_due(
                outcome=Outcome.OK,
                previous_outcome="ok",
                unknown_streak=0,
                retry_after_s=None,
                cadence=cadence,
                now=NOW,
                rng=rng,
            )
            - NOW
        ).total_seconds()
        for _ in range(500)
    ]
    assert min(delays) >= 900 and max(delays) <= 1100
    assert max(delays) - min(delays) > 150  # it does spread


def test_ten_thousand_new_accounts_are_spread_over_the_interval() -> None:
    interval = 3600
    buckets = [0] * 60
    for account_id in range(1, 10_001):
        offset = phase_offset(account_id, interval)
        assert 0 <= offset < interval
        buckets[int(offset // 60)] += 1
    # Every minute of the hour gets its share: no thundering herd.
    assert min(buckets) > 140 and max(buckets) < 200
    assert first_due(42, CADENCE, NOW) == NOW + timedelta(seconds=phase_offset(42, 6 * 3600))
