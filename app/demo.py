"""`liveness demo`: the service on SQLite against the bundled simulator, with a sample registry.

One command shows the product: the simulator's scripted population (alive, stale, silent,
empty, deleted, banned, captcha-blocked, rate-limited, flapping accounts on every platform)
becomes the registry, and every adapter points at the simulator.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from app.accounts import service as accounts_service
from app.auth import service as auth_service
from app.auth.schemas import Role
from app.auth.service import Principal
from app.config import Settings
from app.db import Database
from app.egress import EgressGuard
from app.main import create_app
from app.migrations import upgrade
from monitors.simulator.population import Population
from monitors.simulator.server import create_app as create_simulator
from monitors.simulator.server import public_handle

__all__ = [
    "DEMO_SEED",
    "DEMO_SIZE",
    "banner",
    "canaries_for",
    "demo_settings",
    "registry_rows",
    "run",
    "seed_registry",
    "start_simulator",
]

#: The sample registry: this many of the simulator's scripted accounts, drawn with this seed.
#: tests/test_demo.py proves every flag kind opens within a minute for exactly these.
DEMO_SIZE = 300
DEMO_SEED = 1

DEMO_PRINCIPAL = Principal(key_id=None, name="demo", role=Role.ADMIN, region_prefix=None)
# A few real-looking regions so region filters and reports have something to group.
REGIONS = [
    ("220102", "吉林省长春市南关区", "county"),
    ("220200", "吉林省吉林市", "municipal"),
    ("220000", "吉林省", "provincial"),
    ("110101", "北京市东城区", "county"),
    ("520100", "贵州省贵阳市", "municipal"),
]
ORGANIZATIONS = ["人民政府办公室", "公安局", "卫生健康委员会", "教育局", "市场监督管理局"]


def start_simulator(port: int, size: int, seed: int) -> tuple[Population, str]:
    """Run the simulator in a background thread, wait until it answers, and return its
    scripted population and URL."""
    url = f"http://127.0.0.1:{port}"
    simulator = create_simulator(size, seed, public_url=url)
    config = uvicorn.Config(
        simulator, host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, name="simulator", daemon=True).start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                population: Population = simulator.state.population
                return population, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"the simulator did not start on port {port}")


def registry_rows(population: Population, root: str) -> list[dict[str, Any]]:
    """Registry rows for every scripted account, spread over regions and organizations."""
    rows = []
    for index, account in enumerate(population.accounts):
        code, region, level = REGIONS[index % len(REGIONS)]
        # One organization per account, except that every 50th account is a second account
        # of an organization on the same platform (重复开设), as a real registry has a few.
        # Accounts are dealt round-robin over 9 platforms, so index - 9 is on the same one,
        # and a step of 50 (not a multiple of 9) spreads the pairs over the platforms.
        owner = index - 9 if index % 50 == 9 else index
        owner_region = REGIONS[owner % len(REGIONS)][1]
        organization = f"{owner_region}{ORGANIZATIONS[owner % len(ORGANIZATIONS)]}{owner:03d}号"
        rows.append(
            {
                "platform": account.platform,
                "handle": public_handle(account, root),
                "name": account.display_name,
                "organization": organization,
                "region_code": code,
                "region_name": region,
                "department": ORGANIZATIONS[index % len(ORGANIZATIONS)],
                "level": level,
                "category": "演示",
                "tags": ["demo", str(account.scenario)],
            }
        )
    return rows


def canaries_for(population: Population, root: str) -> dict[str, dict[str, str]]:
    """Per platform, a scripted alive account and a scripted gone one, as canaries."""
    canaries: dict[str, dict[str, str]] = {}
    for account in population.accounts:
        role = {"alive": "alive", "not_found": "absent", "deleted": "absent"}.get(
            str(account.scenario)
        )
        if role is not None:
            canaries.setdefault(account.platform, {}).setdefault(role, public_handle(account, root))
    return canaries


async def seed_registry(database: Database, rows: list[dict[str, Any]], settings: Settings) -> str:
    """Upsert the demo registry and return a fresh viewer key for the person trying it."""
    egress = EgressGuard.for_monitors(settings)
    async with database.write_session() as session:
        await accounts_service.upsert_accounts(session, rows, DEMO_PRINCIPAL, egress=egress)
        _row, key = await auth_service.create_key(session, name="demo viewer", role=Role.VIEWER)
    return key


def demo_database_url(directory: Path) -> str:
    """The demo's own SQLite file, apart from any real registry."""
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{directory / 'liveness-demo.db'}"


def demo_settings(
    database_url: str, simulator_url: str, canaries: dict[str, dict[str, str]], port: int = 8000
) -> Settings:
    """The demo's settings: cycles short enough that every flag kind opens within a minute
    (unknown answers re-checked after 15 s, gone ones confirmed after 20 s) and the ``demo``
    policy, whose confirmation span and blind window fit in that minute."""
    return Settings(
        database_url=database_url,
        simulator_url=simulator_url,
        port=port,
        check_interval_s=120,
        claim_interval_s=2,
        gone_confirm_delay_s=20,
        unknown_backoff_s=15,
        canaries=canaries,
        policy="demo",
    )


def banner(accounts: int, api_url: str, simulator_url: str, viewer_key: str) -> list[str]:
    """What the demo prints at start: the viewer key and every URL worth opening."""
    auth = f"-H 'Authorization: Bearer {viewer_key}'"
    return [
        f"liveness demo: {accounts} sample accounts on every platform",
        f"  API docs      {api_url}/docs",
        f"  accounts      curl {auth} {api_url}/api/v1/accounts",
        f"  flags         curl {auth} '{api_url}/api/v1/flags?state=open'",
        f"  metrics       {api_url}/metrics",
        f"  simulator     {simulator_url}/population",
        f"  viewer key    {viewer_key}",
    ]


def run(
    *, port: int, simulator_port: int, size: int, data_dir: Path, echo: Callable[[str], None]
) -> None:
    """``liveness demo``: start the simulator, seed the registry, print the banner through
    ``echo`` and serve the API with its scheduler until interrupted."""
    population, sim_url = start_simulator(simulator_port, size, seed=DEMO_SEED)
    database_url = demo_database_url(data_dir)
    upgrade(database_url)
    settings = demo_settings(database_url, sim_url, canaries_for(population, sim_url), port)
    rows = registry_rows(population, sim_url)

    async def seed() -> str:
        database = Database(database_url)
        try:
            return await seed_registry(database, rows, settings)
        finally:
            await database.dispose()

    key = asyncio.run(seed())
    for line in banner(len(rows), f"http://127.0.0.1:{port}", sim_url, key):
        echo(line)
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
