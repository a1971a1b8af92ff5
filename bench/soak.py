"""Bench: hostile-upstream soak (issue 8). A third of the platforms turn hostile, then recover.

The simulator runs in its own process with the scripted population (seed 1); the population
is registered (one organization per account) in a fresh SQLite file and `liveness serve`
checks it with short cycles, canaries configured for every platform. Three phases:

- baseline: everything answers as scripted;
- hostile: the first --hostile platform denies every account exists (`absent`, a block that
  looks like absence: only the canaries can tell), the second answers captcha pages, then HTTP
  432, then empty 200 bodies, the third hangs past the client timeout, then answers 429 with
  Retry-After. The phase starts right after a canary verdict on the first platform (the worst
  case: the lie has a whole canary interval before it can be noticed);
- recovery: every platform answers as scripted again.

Figures: false gone flags (unreachable flags on accounts the simulator scripts as not gone;
must be 0), gone flags held (platform degraded, or no canary verdict yet since the first gone
answer), gone answers outside the lie, checks/s and outcomes per phase, RSS of `liveness serve`
over time. bench/README.md has the figures and what they mean.

    .venv/bin/python bench/soak.py                         # 20,000 accounts, ~9 min
    .venv/bin/python bench/soak.py --population 2000 --baseline 20 --interval 60  # ~7 min
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform as host_platform
import subprocess
import sys
import tempfile
import time
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvloop
from checks import (
    LIVENESS,
    PLATFORMS,
    database_url,
    fetch_population,
    free_port,
    register,
    rss_kb,
    simulator,
    wait_http,
)
from sqlmodel import col, select

from app.accounts.models import Account
from app.checks.models import CheckResult, PlatformHealth
from app.db import Database
from app.flags.models import Flag
from monitors import Outcome

GONE_SCENARIOS = {"not_found", "deleted", "banned"}


@dataclass
class Run:
    """What the soak saw while it ran (wall-clock times, UTC)."""

    started: datetime
    hostile_at: datetime | None = None
    recovered_at: datetime | None = None
    ended: datetime | None = None
    rss: list[tuple[float, int]] = field(default_factory=list)
    degraded: dict[str, list[tuple[datetime, bool]]] = field(default_factory=dict)


def soak_policy(directory: Path, args: argparse.Namespace) -> Path:
    """National rules with the gone confirmation span and the blind window scaled to the soak
    (production: 1 h span, canaries hourly, 3-day blind; here span = canary interval)."""
    path = directory / "soak-policy.toml"
    path.write_text(
        "[soak]\n"
        'extends = "national"\n'
        'description = "bench/soak.py: national, with confirmations scaled to minutes"\n'
        "[soak.flags.unreachable]\n"
        f"min_span_hours = {args.interval / 3600}\n"
        "[soak.flags.blind]\n"
        f"days = {args.interval / 86400}\n",
        encoding="utf-8",
    )
    return path


def canaries(population: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Per platform the first scripted alive account and the first not_found/deleted one."""
    chosen: dict[str, dict[str, str]] = {}
    for row in population:
        role = {"alive": "alive", "not_found": "absent", "deleted": "absent"}.get(row["scenario"])
        if role:
            chosen.setdefault(row["platform"], {}).setdefault(role, row["handle"])
    return chosen


def service_env(url: str, sim_url: str, policy: Path, args: argparse.Namespace) -> dict[str, str]:
    per_platform = {p: args.concurrency for p in PLATFORMS}
    return os.environ | {
        "LIVENESS_DATABASE_URL": url,
        "LIVENESS_SIMULATOR_URL": sim_url,
        "LIVENESS_POLICY": str(policy),
        "LIVENESS_MAX_CONCURRENCY": str(args.concurrency),
        "LIVENESS_PLATFORM_CONCURRENCY": json.dumps(per_platform),
        "LIVENESS_PLATFORM_RATES": json.dumps({p: 100_000 for p in PLATFORMS}),
        "LIVENESS_HTTP_MAX_CONNECTIONS": str(args.concurrency * 2),
        "LIVENESS_HTTP_TIMEOUT_S": str(args.timeout_s),
        "LIVENESS_WEBSITE_TIMEOUT_S": str(args.timeout_s),
        "LIVENESS_CLAIM_INTERVAL_S": "0.2",
        "LIVENESS_CHECK_INTERVAL_S": str(args.interval),
        "LIVENESS_GONE_CONFIRM_DELAY_S": str(args.interval),
        "LIVENESS_UNKNOWN_BACKOFF_S": "30",
        "LIVENESS_LOG_LEVEL": "error",
        "LIVENESS_METRICS_PER_ACCOUNT": "false",
    }


def hostile_plan(platforms: list[str], seconds: float) -> list[tuple[float, str, str, float]]:
    """(offset, platform, mode, duration) spells of the hostile phase."""
    liar, captcha, hang = platforms
    third, half = seconds / 3, seconds / 2
    return [
        (0.0, liar, "absent", seconds),
        (0.0, captcha, "captcha", third),
        (0.0, hang, "timeout", half),
        (third, captcha, "http_432", third),
        (half, hang, "rate_limited", half),
        (2 * third, captcha, "empty", seconds - 2 * third),
    ]


async def health(database: Database) -> dict[str, PlatformHealth]:
    async with database.read_session() as session:
        return {h.platform: h for h in (await session.exec(select(PlatformHealth))).all()}


async def sample(database: Database, pid: int, run: Run, stop: asyncio.Event) -> None:
    """RSS of the service and the platforms' degraded state, every 2 s."""
    t0 = time.monotonic()
    while not stop.is_set():
        run.rss.append((time.monotonic() - t0, rss_kb(pid, "VmRSS")))
        now = datetime.now(UTC)
        for platform, row in (await health(database)).items():
            history = run.degraded.setdefault(platform, [])
            if not history or history[-1][1] != row.degraded:
                history.append((now, row.degraded))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=2)


async def after_next_canary(database: Database, platform: str, deadline: float) -> None:
    """Return as soon as a new canary verdict on ``platform`` is stored (or at ``deadline``)."""
    before = (await health(database)).get(platform)
    seen = before.last_canary_at if before else None
    while time.monotonic() < deadline:
        row = (await health(database)).get(platform)
        if row is not None and row.last_canary_at != seen:
            return
        await asyncio.sleep(0.1)


async def drive(sim_url: str, database: Database, run: Run, args: argparse.Namespace) -> None:
    """Baseline, hostile and recovery phases, switching spells on the simulator."""
    async with httpx.AsyncClient(base_url=sim_url, timeout=10) as control:
        await asyncio.sleep(args.baseline)
        await after_next_canary(database, args.hostile[0], time.monotonic() + args.interval + 30)
        run.hostile_at = datetime.now(UTC)
        t0 = time.monotonic()
        for offset, platform, mode, duration in hostile_plan(args.hostile, args.hostile_s):
            await asyncio.sleep(max(0.0, t0 + offset - time.monotonic()))
            # Hangs well past the client's timeout, yet end soon after the spell does.
            hang_s = 3 * args.timeout_s
            body = {"platforms": [platform], "mode": mode, "for_s": duration, "hang_s": hang_s}
            (await control.post("/_control/hostile", json=body)).raise_for_status()
            print(f"  {time.monotonic() - t0:5.0f} s: {platform} {mode} for {duration:.0f} s")
        await asyncio.sleep(max(0.0, t0 + args.hostile_s - time.monotonic()))
        (await control.delete("/_control/hostile")).raise_for_status()
        run.recovered_at = datetime.now(UTC)
        print(f"  {time.monotonic() - t0:5.0f} s: every platform recovered")
        await asyncio.sleep(args.recovery)
        run.ended = datetime.now(UTC)


def degraded_at(run: Run, platform: str, when: datetime) -> bool:
    history = run.degraded.get(platform, [])
    index = bisect_right([t for t, _ in history], when) - 1
    return index >= 0 and history[index][1]


async def analyse(
    database: Database, truth: dict[tuple[str, str], str], run: Run, args: argparse.Namespace
) -> list[str]:
    """The soak's figures from the stored accounts, checks and flags."""
    assert run.hostile_at and run.recovered_at and run.ended
    async with database.read_session() as session:
        accounts = (await session.exec(select(Account.id, Account.platform, Account.handle))).all()
        stored = (
            await session.exec(
                select(
                    CheckResult.account_id,
                    CheckResult.checked_at,
                    CheckResult.elapsed_ms,
                    CheckResult.outcome,
                ).order_by(col(CheckResult.id))
            )
        ).all()
        flags = (
            await session.exec(select(Flag.account_id, Flag.code, Flag.opened_at, Flag.resolved_at))
        ).all()
    checks = [(a, at, Outcome(o).outcome_class.value, ms, o) for a, at, ms, o in stored]
    scenario = {i: truth[(p, h)] for i, p, h in accounts}
    platform_of = {i: p for i, p, _ in accounts}
    phases = [
        ("baseline", run.started, run.hostile_at),
        ("hostile", run.hostile_at, run.recovered_at),
        ("recovery", run.recovered_at, run.ended),
    ]
    lines = []
    per_phase: dict[str, Counter[str]] = defaultdict(Counter)
    for account, at, _cls, _ms, outcome in checks:
        for name, start, end in phases:
            if start <= at < end:
                per_phase[name]["checks"] += 1
                if platform_of[account] in args.hostile:
                    per_phase[f"{name} {platform_of[account]}"][outcome] += 1
    for name, start, end in phases:
        seconds = (end - start).total_seconds()
        count = per_phase[name]["checks"]
        lines.append(f"{name:<9} {seconds:5.0f} s  {count:7d} checks  {count / seconds:6.1f}/s")

    for platform in args.hostile:
        mix = {name: dict(per_phase[f"{name} {platform}"].most_common()) for name, *_ in phases}
        lines.append(f"  {platform} outcomes by phase: {mix}")

    liar = args.hostile[0]
    wrong_gone: list[tuple[int, datetime]] = []
    lie_gone = 0
    for account, at, cls, ms, _outcome in checks:
        if cls != "gone" or scenario[account] in GONE_SCENARIOS:
            continue
        # A check is stamped when it starts; the lie reached it if it ran while the lie held.
        finished = at + timedelta(milliseconds=ms or 0, seconds=1)
        if platform_of[account] == liar and finished >= run.hostile_at and at <= run.recovered_at:
            lie_gone += 1
        else:
            wrong_gone.append((account, at))
    lines.append(
        f"gone answers on accounts scripted not gone: {lie_gone} from the lie on {liar}, "
        f"{len(wrong_gone)} elsewhere {dict(Counter(platform_of[a] for a, _ in wrong_gone))} "
        "(must be 0)"
    )
    lines += await describe_checks(database, wrong_gone[:5], scenario, run)

    unreachable = [(a, o, r) for a, code, o, r in flags if code == "unreachable"]
    false_flags = [(a, o) for a, o, _r in unreachable if scenario[a] not in GONE_SCENARIOS]
    true_flags = [a for a, _o, _r in unreachable if scenario[a] in GONE_SCENARIOS]
    lines.append(
        f"false gone flags: {len(false_flags)} (must be 0); unreachable flags on "
        f"scripted-gone accounts: {len(true_flags)}"
    )
    for account, opened in false_flags[:5]:
        lines.append(
            f"  false: account {account} {platform_of[account]} {scenario[account]} "
            f"opened {(opened - run.hostile_at).total_seconds():+.0f} s from hostile"
        )

    span = timedelta(seconds=args.interval)
    held = held_gone_flags(checks, unreachable, platform_of, run, span)
    reasons = Counter((reason, scenario[a] in GONE_SCENARIOS) for a, reason in held.items())
    lines.append(
        f"gone flags held: {len(held)} accounts whose gone answers met the rule's count and span"
    )
    for reason in ("degraded", "awaiting a canary verdict"):
        lines.append(
            f"  {reason}: {reasons[(reason, False)]} scripted not gone (false flags prevented), "
            f"{reasons[(reason, True)]} scripted gone (real flags delayed)"
        )
    for platform, history in sorted(run.degraded.items()):
        changes = [
            f"{'degraded' if d else 'healthy'} at {(t - run.hostile_at).total_seconds():+.0f} s"
            for t, d in history
            if d or len(history) > 1
        ]
        if changes:
            lines.append(f"  {platform}: {', '.join(changes)} (from the hostile phase's start)")

    blind = [(a, o, r) for a, code, o, r in flags if code == "blind"]
    opened_hostile = Counter(
        platform_of[a] for a, o, _r in blind if run.hostile_at <= o < run.recovered_at
    )
    still_open = Counter(platform_of[a] for a, _o, r in blind if r is None)
    lines.append(
        f"blind flags opened during the hostile phase: {dict(opened_hostile)}; "
        f"open at the end: {dict(still_open)}"
    )
    return lines


async def describe_checks(
    database: Database,
    wanted: Sequence[tuple[int, datetime]],
    scenario: Mapping[Any, str],
    run: Run,
) -> list[str]:
    """One line per (account, check time): what the check stored, for reading a wrong answer."""
    assert run.hostile_at and run.recovered_at
    lines = []
    async with database.read_session() as session:
        for account, at in wanted:
            row = (
                await session.exec(
                    select(CheckResult).where(
                        CheckResult.account_id == account, CheckResult.checked_at == at
                    )
                )
            ).first()
            if row is None:
                continue
            lines.append(
                f"  account {account} {row.platform} scripted {scenario[account]}: {row.outcome} "
                f"at {(at - run.hostile_at).total_seconds():+.1f} s from hostile, "
                f"{(at - run.recovered_at).total_seconds():+.1f} s from recovery, "
                f"{row.elapsed_ms or 0:.0f} ms; {row.error or ''} {row.evidence[:300]}"
            )
    return lines


def held_gone_flags(
    checks: Sequence[Any],
    unreachable: Sequence[Any],
    platform_of: Mapping[Any, str],
    run: Run,
    span: timedelta,
) -> dict[int, str]:
    """Accounts whose gone answers met the unreachable rule's count and span (as
    app/flags/rules.py counts them) with no flag open or opened by that check, and why the
    rule held it: the platform was degraded (as sampled every 2 s), or else no canary verdict
    had come since the streak's first gone answer."""
    opened: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for account, at, resolved in unreachable:
        opened[account].append((at, resolved))
    streaks: dict[int, list[datetime]] = defaultdict(list)
    held: dict[int, str] = {}
    for account, at, cls, _ms, _outcome in checks:
        if cls == "alive":
            streaks[account] = []
        elif cls == "gone":
            streak = streaks[account]
            streak.append(at)
            covered = any(
                o <= at + timedelta(seconds=10) and (r is None or r >= at)
                for o, r in opened[account]
            )
            confirmed = len(streak) >= 2 and streak[-1] - streak[0] >= span
            if confirmed and not covered and account not in held:
                degraded = degraded_at(run, platform_of[account], at)
                held[account] = "degraded" if degraded else "awaiting a canary verdict"
    return held


def rss_lines(run: Run) -> list[str]:
    """RSS of the service: first, middle and last thirds of the run, and every 30 s."""
    samples = [(t, kb / 1024) for t, kb in run.rss if kb]
    values = [mb for _t, mb in samples]
    third = max(1, len(values) // 3)
    first, middle, last = values[:third], values[third:-third] or values, values[-third:]
    mean = [sum(part) / len(part) for part in (first, middle, last)]
    buckets: dict[int, list[float]] = defaultdict(list)
    for t, mb in samples:
        buckets[int(t // 30)].append(mb)
    timeline = " ".join(f"{sum(b) / len(b):.0f}" for _k, b in sorted(buckets.items()))
    return [
        f"RSS of liveness serve: {len(values)} samples over {samples[-1][0]:.0f} s; thirds "
        f"{mean[0]:.0f} / {mean[1]:.0f} / {mean[2]:.0f} MB (last vs first "
        f"{100 * (mean[2] - mean[0]) / mean[0]:+.1f}%), max {max(values):.0f} MB",
        f"  every 30 s (MB): {timeline}",
    ]


async def soak(args: argparse.Namespace) -> None:
    with (
        simulator(0, args.population) as sim_url,
        database_url("sqlite") as url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        database = Database(url)
        population = await fetch_population(sim_url)
        truth = {(row["platform"], row["handle"]): row["scenario"] for row in population}
        t0 = time.monotonic()
        accounts = await register(database, sim_url, organizations=0)
        print(f"registered {accounts} accounts in {time.monotonic() - t0:.1f} s")
        env = service_env(url, sim_url, soak_policy(Path(tmp), args), args)
        env["LIVENESS_CANARIES"] = json.dumps(canaries(population))
        port = free_port()
        command = [LIVENESS, "serve", "--port", str(port)]
        log_path = Path(tmp) / "serve.log"
        with log_path.open("w") as log:
            # Started once, before anything is timed.
            process = subprocess.Popen(  # noqa: ASYNC220
                command, env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            run = Run(started=datetime.now(UTC))
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample(database, process.pid, run, stop))
            await drive(sim_url, database, run, args)
            stop.set()
            await sampler
        finally:
            process.terminate()
            process.wait(timeout=60)
        for line in await analyse(database, truth, run, args) + rss_lines(run):
            print(line)
        logged = log_path.read_text(encoding="utf-8", errors="replace")
        print(
            f"liveness serve logged {logged.count('Traceback')} tracebacks, "
            f"{logged.count(' ERROR ') + logged.count('ERROR:')} errors"
        )
        for line in [line for line in logged.splitlines() if "Error" in line][:5]:
            print(f"  {line[:200]}")
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--population", type=int, default=20_000)
    parser.add_argument(
        "--hostile",
        default="weibo,douyin,huawei",
        help="three platforms: the liar, the captcha/432/empty one, the hanging/429 one",
    )
    parser.add_argument(
        "--baseline", type=float, default=110, help="seconds before turning hostile"
    )
    parser.add_argument("--hostile-s", type=float, default=240)
    parser.add_argument("--recovery", type=float, default=150)
    parser.add_argument(
        "--interval",
        type=int,
        default=120,
        help="check interval = canary interval = gone confirmation delay and span (s)",
    )
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--timeout-s", type=float, default=5, help="upstream request timeout")
    args = parser.parse_args()
    args.hostile = args.hostile.split(",")
    if len(args.hostile) != 3 or not set(args.hostile) <= set(PLATFORMS):
        parser.error("--hostile takes three platforms")
    print(
        f"machine: {os.cpu_count()} cores, Python {host_platform.python_version()}, "
        f"{sys.platform}; {args.population} accounts, hostile {args.hostile}, "
        f"interval {args.interval} s"
    )
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(soak(args))


if __name__ == "__main__":
    main()
