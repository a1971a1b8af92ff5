"""GET /metrics: names, types, units, bounded labels, and figures that match the database."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlmodel import col, func, select

import monitors
from app.accounts.models import Account
from app.checks.pipeline import run_check
from app.config import Settings
from app.db import Database, utcnow
from app.events import delivery
from app.events.webhook_models import WebhookDelivery
from app.flags.models import Flag
from app.flags.policy import FLAG_LABELS
from app.main import create_app
from app.metrics.exposition import ACCOUNT_STATES, account_state, per_account_text
from app.metrics.process import DELIVERY_OUTCOMES, record_delivery, serve_process_metrics
from app.metrics.service import AccountRow, Snapshot
from monitors import Outcome
from tests.conftest import Keys
from tests.support import register_population, running_simulator

# Every liveness_ family the API serves, with its type (the parser drops a counter's _total).
EXPECTED = {
    "liveness_accounts": "gauge",
    "liveness_flags_open": "gauge",
    "liveness_accounts_inspected": "gauge",
    "liveness_accounts_passing": "gauge",
    "liveness_checks_overdue": "gauge",
    "liveness_scheduler_last_tick_timestamp_seconds": "gauge",
    "liveness_platform_degraded": "gauge",
    "liveness_webhook_pending": "gauge",
    "liveness_webhook_oldest_pending_age_seconds": "gauge",
    "liveness_checks": "counter",
    "liveness_check_duration_seconds": "histogram",
    "liveness_webhook_deliveries": "counter",
    "liveness_build_info": "gauge",
}
PER_ACCOUNT = {
    "liveness_last_post_timestamp_seconds": "gauge",
    "liveness_last_check_timestamp_seconds": "gauge",
    "liveness_account_flag_open": "gauge",
    "liveness_account_info": "gauge",
}
# What each label may hold. A label not listed here fails the test, so a new one gets a rule.
_BOUNDED: dict[str, re.Pattern[str] | frozenset[str]] = {
    "platform": frozenset(monitors.PLATFORMS),
    "outcome": frozenset(o.value for o in Outcome) | frozenset(DELIVERY_OUTCOMES.values()),
    "state": frozenset(ACCOUNT_STATES),
    "flag": frozenset(FLAG_LABELS),
    "region": re.compile(r"\d{0,6}"),
    "account_id": re.compile(r"\d+"),
    "le": re.compile(r"\+Inf|\d+(\.\d+)?"),
    "version": re.compile(r"[0-9A-Za-z.+-]+"),
    "revision": re.compile(r"[0-9A-Za-z._-]+"),
}
# Units: base units only; counters end in _total, times in _seconds.
_NOT_BASE_UNIT = re.compile(r"_(ms|milliseconds|minutes|hours|days|kb|mb|percent)(_|$)")


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[str, object]]:
    with running_simulator(60, 11) as running:
        yield running


@asynccontextmanager
async def _started(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, app


@pytest.fixture
async def checked(
    settings: Settings, database: Database, simulator: tuple[str, object]
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """The API over a registry of the simulator's population, every account checked once."""
    url, sim = simulator
    registered = await register_population(database, sim.state.population, url)  # type: ignore[attr-defined]
    async with _started(settings.model_copy(update={"simulator_url": url})) as (client, app):
        await asyncio.gather(*(run_check(app.state.runner, i) for i in registered))
        yield client, app


def _parse(text: str) -> dict[str, tuple[str, list[Sample]]]:
    return {
        family.name: (family.type, family.samples)
        for family in text_string_to_metric_families(text)
        if family.name.startswith("liveness_")
    }


def _checks_counted() -> float:
    return sum(
        REGISTRY.get_sample_value("liveness_checks_total", {"platform": p, "outcome": o.value})
        or 0.0
        for p in monitors.PLATFORMS
        for o in Outcome
    )


async def test_names_types_units_and_labels(
    checked: tuple[httpx.AsyncClient, FastAPI], database: Database
) -> None:
    client, _ = checked
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = _parse(response.text)
    assert {name: kind for name, (kind, _) in found.items()} == EXPECTED | PER_ACCOUNT
    now = utcnow().timestamp()
    for name, (kind, samples) in found.items():
        assert not _NOT_BASE_UNIT.search(name), name
        for sample in samples:
            if kind == "counter" and not sample.name.endswith("_created"):
                assert sample.name.endswith("_total"), sample.name
            if sample.name.endswith("_timestamp_seconds") and sample.value:
                assert now - 10 * 365 * 86400 < sample.value <= now + 60, sample
            if name == "liveness_account_info":
                continue  # the one family that carries names (DESIGN §10)
            for label, value in sample.labels.items():
                rule = _BOUNDED.get(label)
                assert rule is not None, f"{sample.name} has an unclassified label {label}"
                ok = value in rule if isinstance(rule, frozenset) else rule.fullmatch(value)
                assert ok, f"{sample.name}{{{label}={value!r}}} is not a bounded value"


async def test_figures_match_the_database(
    checked: tuple[httpx.AsyncClient, FastAPI], database: Database
) -> None:
    client, _ = checked
    found = _parse((await client.get("/metrics")).text)
    async with database.read_session() as session:
        accounts = list((await session.exec(select(Account))).all())
        open_flags = list((await session.exec(select(Flag).where(col(Flag.state) == "open"))).all())
    assert open_flags, "the population should open some flags on its first check"

    states = found["liveness_accounts"][1]
    assert sum(s.value for s in states) == len(accounts)
    for account in accounts[:20]:
        label = {
            "platform": account.platform,
            "state": account_state(account.status, account.last_outcome),
        }
        assert any(s.labels == label and s.value >= 1 for s in states), label
    assert sum(s.value for s in found["liveness_flags_open"][1]) == len(open_flags)
    assert {
        (s.labels["account_id"], s.labels["flag"]) for s in found["liveness_account_flag_open"][1]
    } == {(str(f.account_id), f.code) for f in open_flags}
    inspected = sum(s.value for s in found["liveness_accounts_inspected"][1])
    passing = sum(s.value for s in found["liveness_accounts_passing"][1])
    vetoed = {f.account_id for f in open_flags if f.veto}
    assert inspected == len(accounts)
    assert passing == len(accounts) - len(vetoed)

    info = {s.labels["account_id"]: s.labels for s in found["liveness_account_info"][1]}
    posts = {
        s.labels["account_id"]: s.value for s in found["liveness_last_post_timestamp_seconds"][1]
    }
    for account in accounts:
        assert info[str(account.id)]["name"] == account.name
        assert info[str(account.id)]["region"] == account.region_code
        if account.last_post_at is None:
            assert str(account.id) not in posts
        else:
            assert posts[str(account.id)] == pytest.approx(account.last_post_at.timestamp())


async def test_checks_are_counted_and_timed(
    checked: tuple[httpx.AsyncClient, FastAPI], database: Database
) -> None:
    _, app = checked
    async with database.read_session() as session:
        rows = (await session.exec(select(Account.id, Account.platform))).all()
    weibo = {"platform": "weibo"}
    before = _checks_counted()
    timed = REGISTRY.get_sample_value("liveness_check_duration_seconds_count", weibo) or 0.0
    await asyncio.gather(*(run_check(app.state.runner, i) for i, _ in rows if i is not None))
    assert _checks_counted() - before == len(rows)
    after = REGISTRY.get_sample_value("liveness_check_duration_seconds_count", weibo)
    assert after == timed + sum(1 for _, platform in rows if platform == "weibo")


async def test_per_account_series_can_be_turned_off(
    settings: Settings, database: Database, simulator: tuple[str, object]
) -> None:
    url, sim = simulator
    await register_population(database, sim.state.population, url)  # type: ignore[attr-defined]
    off = settings.model_copy(update={"metrics_per_account": False})
    async with _started(off) as (client, _):
        found = _parse((await client.get("/metrics")).text)
        assert set(found) == set(EXPECTED)
        # No series names an account, by id or by name.
        labels = {label for _kind, samples in found.values() for s in samples for label in s.labels}
        assert labels.isdisjoint({"account_id", "name", "organization"}), labels
        assert sum(s.value for s in found["liveness_accounts"][1]) == len(
            sim.state.population.accounts  # type: ignore[attr-defined]
        )


async def test_a_key_can_be_required(settings: Settings, keys: Keys) -> None:
    guarded = settings.model_copy(update={"metrics_require_key": True})
    async with _started(guarded) as (client, _):
        missing = await client.get("/metrics")
        assert missing.status_code == 401
        assert missing.headers["content-type"] == "application/problem+json"
        scoped = await client.get("/metrics", headers=keys.header(keys.scoped_viewer))
        assert scoped.status_code == 403
        assert (await client.get("/metrics", headers=keys.header(keys.viewer))).status_code == 200


async def test_webhook_backlog_and_deliveries(
    settings: Settings, database: Database, simulator: tuple[str, object], keys: Keys
) -> None:
    url, sim = simulator
    open_hooks = settings.model_copy(update={"webhook_allow_private": True})
    async with _started(open_hooks) as (client, _):
        created = await client.post(
            "/api/v1/webhooks",
            json={"url": "http://127.0.0.1:4/hook", "event_types": ["account.created"]},
            headers=keys.header(keys.admin),
        )
        assert created.status_code == 201, created.text
        empty = _parse((await client.get("/metrics")).text)
        assert empty["liveness_webhook_pending"][1][0].value == 0
        assert empty["liveness_webhook_oldest_pending_age_seconds"][1][0].value == 0
        await register_population(database, sim.state.population, url)  # type: ignore[attr-defined]
        async with database.write_session() as session:
            await delivery.fan_out(session, now=utcnow())
        async with database.read_session() as session:
            pending = (await session.exec(select(func.count()).select_from(WebhookDelivery))).one()
        assert pending == len(sim.state.population.accounts)  # type: ignore[attr-defined]
        found = _parse((await client.get("/metrics")).text)
        assert found["liveness_webhook_pending"][1][0].value == pending
        assert found["liveness_webhook_oldest_pending_age_seconds"][1][0].value >= 0

    success = {"outcome": "success"}
    before = REGISTRY.get_sample_value("liveness_webhook_deliveries_total", success) or 0.0
    record_delivery("succeeded")
    record_delivery(None)  # a lost lease is not an attempt of this process's
    assert REGISTRY.get_sample_value("liveness_webhook_deliveries_total", success) == before + 1


def test_account_state_labels() -> None:
    assert account_state("archived", "ok") == "archived"
    assert account_state("closed", None) == "closed"
    assert account_state("active", None) == "unchecked"
    assert account_state("active", "deleted") == "gone"
    assert account_state("active", "rate_limited") == "unknown"
    assert account_state("active", "empty") == "alive"
    assert account_state("active", "no-such-outcome") == "unknown"


def test_scheduler_and_workers_serve_their_own_counters() -> None:
    settings = Settings(_env_file=None, metrics_host="127.0.0.1", build_revision="abc123")
    assert serve_process_metrics(None, settings) is None
    server = serve_process_metrics(_free_port(), settings)
    assert server is not None
    try:
        host, port = server.server_address[:2]
        text = httpx.get(f"http://{host!s}:{port}/metrics", timeout=5).text
    finally:
        server.shutdown()
        server.server_close()
    found = _parse(text)
    assert found["liveness_checks"][0] == "counter"
    assert found["liveness_build_info"][1][0].labels["revision"] == "abc123"
    assert "liveness_accounts" not in found  # database gauges come from the API only


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_names_with_quotes_backslashes_and_newlines_survive_the_text_format() -> None:
    tricky = 'a"b\\c\nd 政府'
    row = AccountRow(7, "weibo", tricky, "220102", tricky, None, utcnow())
    snapshot = Snapshot(
        account_states={},
        inspection={},
        open_flags={},
        overdue={},
        last_tick=None,
        degraded={},
        webhook_pending=0,
        webhook_oldest_pending=None,
        accounts=[row],
        account_flags=[(7, "weibo", "zombie")],
    )
    found = _parse(per_account_text(snapshot))
    info = found["liveness_account_info"][1]
    assert [(s.labels["name"], s.labels["organization"]) for s in info] == [(tricky, tricky)]
    assert "liveness_last_post_timestamp_seconds" in found  # present, with no samples
    assert found["liveness_last_post_timestamp_seconds"][1] == []
    assert found["liveness_account_flag_open"][1][0].labels["flag"] == "zombie"
