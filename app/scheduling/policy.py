"""When an account is next due: pure functions of its outcome, its history and ``now``.

An account keeps its own phase in the cycle (a deterministic offset from its id), so 10,000
accounts registered at once never fire at once; a little jitter keeps phases from drifting
into step. Unknown outcomes back off, gone outcomes are re-checked soon to be confirmed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitors import Outcome

__all__ = ["Cadence", "first_due", "next_due", "phase_offset"]

# The golden ratio's fractional part spreads consecutive ids evenly over the cycle.
_GOLDEN = 0.6180339887498949


@dataclass(frozen=True, slots=True)
class Cadence:
    """The timing settings one decision needs (seconds)."""

    interval_s: int
    jitter: float
    gone_confirm_delay_s: int
    unknown_backoff_s: int


def phase_offset(account_id: int, interval_s: int) -> float:
    """A fixed offset in [0, interval) that is the same for an account on every run."""
    return ((account_id * _GOLDEN) % 1.0) * interval_s


def first_due(account_id: int, cadence: Cadence, now: datetime) -> datetime:
    """When a never-checked account is first due: within one interval, at its own phase."""
    return now + timedelta(seconds=phase_offset(account_id, cadence.interval_s))


def next_due(
    *,
    outcome: Outcome,
    previous_outcome: str | None,
    unknown_streak: int,
    retry_after_s: float | None,
    cadence: Cadence,
    now: datetime,
    rng: random.Random | None = None,
    refused: bool = False,
) -> datetime:
    """When to check again after ``outcome``.

    - alive: one interval later, with jitter;
    - gone: after the confirmation delay the first time (DESIGN §6 needs two gone answers at
      least an hour apart), then at the normal interval;
    - unknown: exponential backoff from ``unknown_backoff_s`` (``unknown_streak`` counts the
      unknown answers in a row, this one included), never sooner than a Retry-After and never
      later than one interval; but one interval when the egress guard ``refused`` the
      request, since its address will not have become public in five minutes.
    """
    rng = rng or random.Random()
    interval = float(cadence.interval_s)
    was_gone = previous_outcome is not None and Outcome(previous_outcome).is_gone
    if outcome.is_gone and not was_gone:
        delay = float(min(cadence.gone_confirm_delay_s, cadence.interval_s))
    elif outcome.is_unknown and not refused:
        backoff = cadence.unknown_backoff_s * 2 ** max(unknown_streak - 1, 0)
        delay = min(float(backoff), interval)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, interval))
    else:
        delay = interval
    spread = delay * cadence.jitter
    return now + timedelta(seconds=delay + rng.uniform(-spread, spread))
