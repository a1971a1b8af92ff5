"""Turn a database snapshot into Prometheus metric families (pure; no I/O)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

import monitors
from app.flags.policy import FLAG_LABELS
from app.metrics.service import Snapshot
from monitors import Outcome

__all__ = [
    "ACCOUNT_STATES",
    "SnapshotCollector",
    "account_state",
    "families",
    "per_account_text",
]

# An active account's state is the class of its last outcome; other registry statuses are
# states of their own, so sum(liveness_accounts) is the whole registry.
ACCOUNT_STATES = ("alive", "gone", "unknown", "unchecked", "archived", "closed")


def account_state(status: str, last_outcome: str | None) -> str:
    """The ``state`` label of an account with this registry status and last outcome."""
    if status != "active":
        return status if status in ACCOUNT_STATES else "archived"
    if last_outcome is None:
        return "unchecked"
    try:
        return Outcome(last_outcome).outcome_class.value
    except ValueError:
        return "unknown"


def _timestamp(value: datetime | None) -> float:
    return value.timestamp() if value is not None else 0.0


def _platforms(snapshot: Snapshot) -> list[str]:
    seen = {p for p, _s, _o in snapshot.account_states} | set(snapshot.overdue)
    return list(monitors.PLATFORMS) + sorted(seen - set(monitors.PLATFORMS))


def families(snapshot: Snapshot, *, now: datetime) -> Iterator[Metric]:
    """Every scrape-time gauge of DESIGN §10, with a zero for each known label value."""
    platforms = _platforms(snapshot)
    accounts = GaugeMetricFamily(
        "liveness_accounts",
        "Registered accounts by platform and state.",
        labels=["platform", "state"],
    )
    by_state: dict[tuple[str, str], int] = defaultdict(int)
    for (platform, status, outcome), count in snapshot.account_states.items():
        by_state[platform, account_state(status, outcome)] += count
    for platform in platforms:
        for state in ACCOUNT_STATES:
            accounts.add_metric([platform, state], by_state.get((platform, state), 0))
    yield accounts

    flags = GaugeMetricFamily(
        "liveness_flags_open", "Open flags by flag code and platform.", labels=["flag", "platform"]
    )
    for code in FLAG_LABELS:
        for platform in platforms:
            flags.add_metric([code, platform], snapshot.open_flags.get((code, platform), 0))
    yield flags

    inspected = GaugeMetricFamily(
        "liveness_accounts_inspected",
        "Active accounts checked at least once, by platform and region code.",
        labels=["platform", "region"],
    )
    passing = GaugeMetricFamily(
        "liveness_accounts_passing",
        "Inspected accounts with no single-veto flag open (合格), by platform and region code.",
        labels=["platform", "region"],
    )
    for (platform, region), (total, ok) in sorted(snapshot.inspection.items()):
        inspected.add_metric([platform, region], total)
        passing.add_metric([platform, region], ok)
    yield inspected
    yield passing

    overdue = GaugeMetricFamily(
        "liveness_checks_overdue", "Active accounts due and not claimed.", labels=["platform"]
    )
    degraded = GaugeMetricFamily(
        "liveness_platform_degraded",
        "1 while the canaries say a platform answers wrongly (gone flags are held).",
        labels=["platform"],
    )
    for platform in platforms:
        overdue.add_metric([platform], snapshot.overdue.get(platform, 0))
        degraded.add_metric([platform], 1 if snapshot.degraded.get(platform) else 0)
    yield overdue
    yield degraded

    yield GaugeMetricFamily(
        "liveness_scheduler_last_tick_timestamp_seconds",
        "When a scheduler last claimed due accounts (0: never).",
        value=_timestamp(snapshot.last_tick),
    )
    yield GaugeMetricFamily(
        "liveness_webhook_pending",
        "Webhook deliveries waiting to be sent to enabled endpoints.",
        value=snapshot.webhook_pending,
    )
    oldest = snapshot.webhook_oldest_pending
    yield GaugeMetricFamily(
        "liveness_webhook_oldest_pending_age_seconds",
        "Age of the oldest event with a delivery still pending (0: none).",
        value=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
    )


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _header(name: str, doc: str) -> str:
    return f"# HELP {name} {doc}\n# TYPE {name} gauge\n"


def per_account_text(snapshot: Snapshot) -> str:
    """The per-account families in the text format, written directly: at 100,000 accounts
    these are 300,000+ samples, and building them as metric objects took seconds."""
    if not snapshot.accounts and not snapshot.account_flags:
        return ""
    posts = [
        _header(
            "liveness_last_post_timestamp_seconds",
            "Time of the account's newest post seen (accounts with a known post only).",
        )
    ]
    checks = [
        _header(
            "liveness_last_check_timestamp_seconds",
            "Time of the account's last check (checked accounts only).",
        )
    ]
    info = [
        _header(
            "liveness_account_info",
            "One series per active account carrying its names; join on account_id.",
        )
    ]
    for row in snapshot.accounts:
        ids = f'platform="{row.platform}",account_id="{row.id}"'
        if row.last_post_at is not None:
            posts.append(
                f"liveness_last_post_timestamp_seconds{{{ids}}} {row.last_post_at.timestamp()!r}\n"
            )
        if row.last_checked_at is not None:
            checked = row.last_checked_at.timestamp()
            checks.append(f"liveness_last_check_timestamp_seconds{{{ids}}} {checked!r}\n")
        info.append(
            f'liveness_account_info{{account_id="{row.id}",platform="{row.platform}",'
            f'organization="{_escape(row.organization)}",region="{_escape(row.region_code)}",'
            f'name="{_escape(row.name)}"}} 1.0\n'
        )
    flags = [_header("liveness_account_flag_open", "1 for each open flag of an account.")]
    flags.extend(
        f'liveness_account_flag_open{{account_id="{account_id}",platform="{platform}",'
        f'flag="{code}"}} 1.0\n'
        for account_id, platform, code in snapshot.account_flags
    )
    return "".join(posts + checks + info + flags)


class SnapshotCollector(Collector):
    """Yields prepared families; registered on a throwaway registry for one scrape."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self._metrics = list(metrics)

    def collect(self) -> Iterable[Metric]:
        """The families prepared for this scrape."""
        return self._metrics
