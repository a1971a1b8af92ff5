"""The demo: its registry and canaries come from the simulator's scripted population, it
prints a viewer key and the URLs, and flags of every kind open within its first minute."""

from __future__ import annotations

import inspect
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from app import cli
from app.accounts.schemas import AccountCreate
from app.checks.pipeline import CheckRunner, make_http_client
from app.db import Database
from app.demo import (
    DEMO_SEED,
    DEMO_SIZE,
    banner,
    canaries_for,
    demo_database_url,
    demo_settings,
    registry_rows,
    seed_registry,
)
from app.flags.policy import FLAG_LABELS
from app.main import create_app as create_api
from app.scheduling.inline import InlineExecutor
from app.scheduling.scheduler import Scheduler, canary_interval_s
from monitors import PLATFORMS
from monitors.simulator.population import Scenario
from monitors.simulator.server import create_app, load_platform_sims
from tests.support import running_simulator

APP_PLATFORMS = ("appstore", "huawei", "xiaomi", "yyb")


def test_demo_registry_covers_every_platform_and_validates() -> None:
    population = create_app(300, 1).state.population
    rows = registry_rows(population, "http://127.0.0.1:9000")
    assert len(rows) == 300
    assert {r["platform"] for r in rows} == set(PLATFORMS)
    assert len({r["region_code"] for r in rows}) >= 3
    for row in rows:
        AccountCreate.model_validate(row)


def test_demo_canaries_are_an_alive_and_a_gone_account() -> None:
    population = create_app(300, 1).state.population
    canaries = canaries_for(population, "http://127.0.0.1:9000")
    assert set(canaries) == set(PLATFORMS)
    scripted = {(a.platform, a.handle): str(a.scenario) for a in population.accounts}
    for platform, handles in canaries.items():
        alive = handles["alive"].removeprefix("http://127.0.0.1:9000")
        assert scripted[(platform, alive)] == "alive"
        if "absent" in handles:
            absent = handles["absent"].removeprefix("http://127.0.0.1:9000")
            assert scripted[(platform, absent)] in ("not_found", "deleted")


def test_demo_population_scripts_what_every_flag_kind_needs() -> None:
    """Every platform of the demo's population holds each scenario it can express, so the
    app stores have a release a year old (app_outdated) as well as gone and blind apps."""
    population = create_app(DEMO_SIZE, DEMO_SEED).state.population
    for platform, sim in ((s.PLATFORM, s) for s in load_platform_sims()):
        seen = {a.scenario for a in population.accounts if a.platform == platform}
        assert seen == sim.SCENARIOS, platform
    for platform in APP_PLATFORMS:
        assert Scenario.OUTDATED in {
            a.scenario for a in population.accounts if a.platform == platform
        }


def test_banner_prints_the_viewer_key_and_every_url() -> None:
    lines = banner(300, "http://127.0.0.1:8000", "http://127.0.0.1:9000", "lv_secret_key")
    text = "\n".join(lines)
    assert "300 sample accounts" in lines[0]
    assert any(line.split() == ["viewer", "key", "lv_secret_key"] for line in lines)
    for url in (
        "http://127.0.0.1:8000/docs",
        "http://127.0.0.1:8000/api/v1/accounts",
        "http://127.0.0.1:8000/api/v1/flags?state=open",
        "http://127.0.0.1:8000/metrics",
        "http://127.0.0.1:9000/population",
    ):
        assert url in text, url
    assert text.count("Authorization: Bearer lv_secret_key") == 2


def test_the_cli_demo_uses_the_size_the_tests_prove() -> None:
    assert inspect.signature(cli.demo).parameters["accounts"].default == DEMO_SIZE


# --- the demo's first minute, in simulated time ----------------------------------------------

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
MINUTE = 60
ALL_KINDS = set(FLAG_LABELS)


async def _open_flags(client: httpx.AsyncClient, key: str) -> list[dict[str, object]]:
    flags: list[dict[str, object]] = []
    cursor = None
    while True:
        params = {"state": "open", "limit": "500"} | ({"cursor": cursor} if cursor else {})
        page = await client.get("/api/v1/flags", params=params, headers=_auth(key))
        assert page.status_code == 200, page.text
        flags += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return flags


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _flags_open_on_metrics(text: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "liveness_flags_open":
            for sample in family.samples:
                flag = sample.labels["flag"]
                totals[flag] = totals.get(flag, 0.0) + sample.value
    return totals


async def test_every_flag_kind_opens_within_the_demos_first_minute(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """The demo as `liveness demo` sets it up (its population, registry, canaries, settings
    and policy), with the scheduler's ticks driven every claim interval of simulated time and
    its canaries every canary interval:
    a minute after start the API and /metrics show open flags of all eight kinds, each on the
    accounts whose script calls for it."""
    database_url = demo_database_url(tmp_path)
    shutil.copyfile(sqlite_template, tmp_path / "liveness-demo.db")
    with running_simulator(DEMO_SIZE, DEMO_SEED) as (url, sim):
        population = sim.state.population
        settings = demo_settings(database_url, url, canaries_for(population, url))
        database = Database(database_url)
        client = make_http_client(settings)
        runner = CheckRunner(database=database, client=client, settings=settings)
        executor = InlineExecutor(runner)
        scheduler = Scheduler(runner, executor, name="demo-test")
        try:
            with time_machine.travel(START, tick=False) as clock:
                key = await seed_registry(database, registry_rows(population, url), settings)
                next_canaries = 0.0
                for elapsed in range(0, MINUTE + 1, int(settings.claim_interval_s)):
                    clock.move_to(START + timedelta(seconds=elapsed))
                    if elapsed >= next_canaries:
                        await scheduler.canaries()
                        next_canaries += canary_interval_s(settings)
                    await scheduler.tick()
                    await executor.drain()
                await runner.flush()
                api = create_api(settings.model_copy(update={"scheduler_enabled": False}))
                async with (
                    api.router.lifespan_context(api),
                    httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=api), base_url="http://demo"
                    ) as http,
                ):
                    flags = await _open_flags(http, key)
                    metrics = (await http.get("/metrics")).text
        finally:
            await executor.close()
            await client.aclose()
            await database.dispose()

    assert {f["code"] for f in flags} == ALL_KINDS
    assert all(
        datetime.fromisoformat(str(f["opened_at"])) <= START + timedelta(seconds=MINUTE)
        for f in flags
    )
    opened = _flags_open_on_metrics(metrics)
    assert {code for code, count in opened.items() if count > 0} == ALL_KINDS

    # Each kind rests on the accounts scripted for it (registry order is population order).
    scripted = {index + 1: account.scenario for index, account in enumerate(population.accounts)}
    by_code: dict[str, set[Scenario]] = {}
    for flag in flags:
        by_code.setdefault(str(flag["code"]), set()).add(scripted[int(str(flag["account_id"]))])
    assert by_code["app_outdated"] == {Scenario.OUTDATED}
    outdated_apps = sum(1 for s in scripted.values() if s is Scenario.OUTDATED)
    assert sum(1 for f in flags if f["code"] == "app_outdated") == outdated_apps
    assert by_code["unreachable"] <= {Scenario.NOT_FOUND, Scenario.DELETED, Scenario.BANNED}
    assert by_code["blind"] <= {Scenario.CAPTCHA, Scenario.RATE_LIMITED}
    # An account with no posts at all is silent too: empty accounts are zombies as well.
    assert Scenario.SILENT in by_code["zombie"]
    assert by_code["zombie"] <= {Scenario.SILENT, Scenario.EMPTY}
    assert by_code["empty_shell"] == {Scenario.EMPTY}
