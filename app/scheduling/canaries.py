"""Canaries: per platform, a handle known alive and one known absent, checked every cycle.

If the alive one answers gone, or the absent one answers alive, the platform is changing
under us (a new page layout, a block that looks like absence), so it is marked degraded and
new gone flags on it are held. Unknown answers prove nothing either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.checks import service
from app.checks.pipeline import CheckRunner
from app.events.service import emit

__all__ = ["CanaryVerdict", "judge", "run_canaries"]


@dataclass(frozen=True, slots=True)
class CanaryVerdict:
    """``degraded`` is None when the canaries were inconclusive."""

    platform: str
    degraded: bool | None
    reason: str


def judge(platform: str, alive_class: str | None, absent_class: str | None) -> CanaryVerdict:
    """Decide from the outcome classes the two canaries answered with (None: not configured)."""
    if alive_class == "gone":
        return CanaryVerdict(platform, True, "the known-alive canary answered gone")
    if absent_class == "alive":
        return CanaryVerdict(platform, True, "the known-absent canary answered alive")
    conclusive = [c for c in (alive_class, absent_class) if c is not None]
    if conclusive and all(c != "unknown" for c in conclusive):
        return CanaryVerdict(platform, False, "canaries answered as expected")
    return CanaryVerdict(platform, None, "canaries were inconclusive")


async def run_canaries(runner: CheckRunner) -> list[tuple[CanaryVerdict, bool]]:
    """Check every configured canary and store each platform's verdict.

    Returns each verdict with whether it changed the platform's degraded state.
    """
    results = []
    for platform, handles in sorted(runner.settings.canaries.items()):
        classes: dict[str, str | None] = {}
        for role in ("alive", "absent"):
            handle = handles.get(role)
            if handle:
                obs = await runner.observe(platform, handle)
                classes[role] = obs.outcome.outcome_class.value
            else:
                classes[role] = None
        verdict = judge(platform, classes["alive"], classes["absent"])
        async with runner.database.write_session(queued=True) as session:
            now = runner.clock()
            health, changed = await service.set_health(
                session, platform, degraded=verdict.degraded, reason=verdict.reason, now=now
            )
            if changed:
                emit(
                    session,
                    "platform.degraded" if health.degraded else "platform.recovered",
                    {
                        "platform": platform,
                        "degraded": health.degraded,
                        "reason": verdict.reason,
                        "changed_at": now.isoformat(),
                    },
                    at=now,
                )
        results.append((verdict, changed))
    return results
