"""How often the scheduler runs the canaries."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.scheduling.scheduler import canary_interval_s


@pytest.mark.parametrize(
    ("interval", "confirm", "expected"),
    [
        (21600, 3600, 1800),  # the defaults: twice per confirmation delay
        (21600, 7200, 3600),  # at least hourly
        (600, 3600, 600),  # at least once per check interval
        (120, 20, 10),  # the demo
        (10, 1, 5),  # never more than every 5 s
    ],
)
def test_canaries_run_twice_per_gone_confirmation_delay(
    interval: int, confirm: int, expected: float
) -> None:
    settings = Settings(_env_file=None, check_interval_s=interval, gone_confirm_delay_s=confirm)
    assert canary_interval_s(settings) == expected
