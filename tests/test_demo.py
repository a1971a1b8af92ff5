"""The demo's registry and canaries come from the simulator's scripted population."""

from __future__ import annotations

from app.accounts.schemas import AccountCreate
from app.demo import canaries_for, registry_rows
from monitors import PLATFORMS
from monitors.simulator.server import create_app


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
