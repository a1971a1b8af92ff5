"""Bench: crash recovery over many SIGKILLs (issue 8), the figures for bench/README.md.

The run of tests/test_crash_recovery.py with more kills: real `liveness serve` on SQLite, or
`liveness scheduler` and two `liveness worker` processes on PostgreSQL, SIGKILLed at random
points (seeded) and restarted at once, against the simulator on a real socket. After the run
the invariants of tests/crash_invariants.py are checked on the database and counted.

    .venv/bin/python bench/crash.py                       # both backends, 20 kills each
    .venv/bin/python bench/crash.py --backend sqlite --kills 5 --seed 7

Figures per backend: kills (victims), leases held at the kills, checks stored, flag changes
and events, checks doubled, flag changes lost or unexplained, other broken invariants, the
longest time from a restart until every account leased at its kill had a check stored, and
the time from the last restart until every account had been checked again.
"""

from __future__ import annotations

import argparse
import os
import platform as host_platform
import random
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from checks import database_url  # noqa: E402

from tests.crash_invariants import check_invariants, read_stored  # noqa: E402
from tests.crash_support import CrashPlan, crash_run  # noqa: E402


def bench(backend: str, kills: int, seed: int, accounts: int, latency_ms: float) -> bool:
    """One crash run on ``backend``; prints its figures and returns whether all held."""
    with database_url(backend) as url, tempfile.TemporaryDirectory() as tmp:
        plan = CrashPlan(
            backend=backend,
            database_url=url,
            seed=seed,
            kills=kills,
            accounts=accounts,
            latency_ms=latency_ms,
        )
        with crash_run(plan, Path(tmp)) as run:
            found = check_invariants(run, read_stored(url))
    victims = Counter(kill.victim for kill in run.kills)
    recovered = [kill.recovered_s or 0.0 for kill in run.kills]
    repeats = len(run.received) - len(set(run.received))
    rows = [
        ("kills", f"{len(run.kills)} ({', '.join(f'{v} {n}' for v, n in victims.items())})"),
        ("leases held at the kills", f"{sum(len(k.held) for k in run.kills)}"),
        ("checks stored", f"{found.checks}"),
        ("flag changes / flag events", f"{found.flag_changes} / {found.flag_events}"),
        ("checks doubled", f"{found.duplicates}"),
        ("flag changes lost / unexplained", f"{found.lost_changes} / {found.extra_changes}"),
        ("invariant violations (all kinds)", f"{len(found.problems)}"),
        ("webhook events repeated (at-least-once)", f"{repeats}"),
        ("restart → leased accounts re-checked, max", f"{max(recovered):.1f} s"),
        ("restart → leased accounts re-checked, median", f"{statistics.median(recovered):.1f} s"),
        ("last restart → every account re-checked", f"{run.final_recheck_s:.1f} s"),
    ]  # fmt: skip
    print(f"\n{backend}: {accounts} accounts, interval {plan.interval_s} s, lease {plan.lease_s} s")
    print(f"seed {seed}, simulator latency {latency_ms:g} ms, {run.flips} simulated flips")
    for name, value in rows:
        print(f"  {name:<46} {value}")
    for problem in found.problems[:20]:
        print(f"  ! {problem}")
    return not found.problems


def _cpu() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else host_platform.machine()


def main() -> None:
    """Parse the options and run each backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--accounts", type=int, default=150)
    parser.add_argument("--latency-ms", type=float, default=800)
    args = parser.parse_args()
    if args.kills < 1:
        parser.error("--kills must be at least 1")
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    print(f"machine: {_cpu()} x {os.cpu_count()}, Python {host_platform.python_version()}")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    held = [bench(b, args.kills, seed, args.accounts, args.latency_ms) for b in backends]
    sys.exit(0 if all(held) else 1)


if __name__ == "__main__":
    main()
