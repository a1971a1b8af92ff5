"""Crash recovery (issue 8): SIGKILL the service, the scheduler and a worker at random points of
a run, on SQLite and on PostgreSQL; afterwards no check row, flag change or event is lost or
doubled, and every account is checked again within one interval of the last kill.

Real processes, real sockets (tests/crash_support.py); the invariants are read from the
database (tests/crash_invariants.py). The kill pauses and victims come from a seed, printed
and taken from LIVENESS_CRASH_SEED when set, so a failing run can be repeated.
bench/crash.py runs the same with many more kills and prints the figures.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
from pathlib import Path

import pytest

from tests.conftest import pg_url
from tests.crash_invariants import Findings, check_invariants, read_stored
from tests.crash_support import CrashPlan, CrashRun, crash_run


def _seed() -> int:
    seed = int(os.environ.get("LIVENESS_CRASH_SEED") or random.randrange(1_000_000))
    print(f"\ncrash seed {seed} (rerun with LIVENESS_CRASH_SEED={seed})")
    return seed


def _assert_survived(run: CrashRun, found: Findings) -> None:
    # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly.
    clean = {name: (0, -signal.SIGTERM) if name == "serve" else (0,) for name in run.exit_codes}
    assert all(run.exit_codes[name] in codes for name, codes in clean.items()), run.exit_codes
    assert sum(len(kill.held) for kill in run.kills) > 0, "no kill caught a check in flight"
    assert found.resolved_changes > 0, "no flag was resolved: the run exercised too little"
    assert not found.problems, "\n".join(found.problems[:30])
    assert found.duplicates == found.lost_changes == found.extra_changes == 0
    print(
        f"{len(run.kills)} kills ({', '.join(k.victim for k in run.kills)}), "
        f"{sum(len(k.held) for k in run.kills)} leases held at them; {found.checks} checks, "
        f"{found.flag_changes} flag changes, {found.flag_events} flag events; every account "
        f"re-checked {run.final_recheck_s:.1f} s after the last restart"
    )


def test_sqlite_serve_killed_at_random_points(tmp_path: Path, sqlite_template: Path) -> None:
    path = tmp_path / "liveness.db"
    shutil.copyfile(sqlite_template, path)
    plan = CrashPlan(backend="sqlite", database_url=f"sqlite+aiosqlite:///{path}", seed=_seed())
    with crash_run(plan, tmp_path) as run:
        found = check_invariants(run, read_stored(plan.database_url))
    _assert_survived(run, found)


@pytest.mark.pg
def test_postgresql_scheduler_and_workers_killed_at_random_points(
    tmp_path: Path, pg_database: str
) -> None:
    plan = CrashPlan(backend="postgresql", database_url=pg_url(pg_database), seed=_seed())
    with crash_run(plan, tmp_path) as run:
        found = check_invariants(run, read_stored(plan.database_url))
    assert {"scheduler"} < {kill.victim for kill in run.kills}, "scheduler and a worker die"
    _assert_survived(run, found)
