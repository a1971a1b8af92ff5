"""Helpers shared by tests: the simulator on a real socket, a scripted DNS."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from aiohttp.abc import AbstractResolver, ResolveResult
from starlette.applications import Starlette

from monitors.simulator.server import create_app


class FixedDNS(AbstractResolver):
    """An aiohttp resolver answering every name with one address: DNS that an attacker
    controls (rebinding), without a DNS server."""

    def __init__(self, address: str) -> None:
        self.address = address

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """One answer, whatever was asked."""
        return [
            ResolveResult(
                hostname=host, host=self.address, port=port, family=family, proto=0, flags=0
            )
        ]

    async def close(self) -> None:
        """Nothing to release."""


@contextmanager
def running_simulator(
    size: int, seed: int, latency_ms: float = 0
) -> Iterator[tuple[str, Starlette]]:
    """Run the simulator with uvicorn on a free 127.0.0.1 port in a background thread;
    ``latency_ms`` delays every answer, so checks take a while."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(size, seed, latency_ms=latency_ms, public_url=url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the simulator did not start")
        time.sleep(0.02)
    try:
        yield url, app
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


async def register_population(
    database: object, population: object, url: str, *, platforms: set[str] | None = None
) -> dict[int, object]:
    """Register the simulator's scripted accounts; returns account id -> scripted account."""
    from app.accounts import service as accounts_service
    from app.auth.schemas import Role
    from app.auth.service import Principal
    from app.db import Database
    from app.egress import EgressGuard
    from monitors.simulator.population import Population
    from monitors.simulator.server import public_handle

    assert isinstance(database, Database) and isinstance(population, Population)
    principal = Principal(key_id=None, name="test", role=Role.ADMIN, region_prefix=None)
    chosen = [a for a in population.accounts if platforms is None or a.platform in platforms]
    rows = [
        {
            "platform": a.platform,
            "handle": public_handle(a, url),
            "name": a.display_name,
            "region_code": "220102",
            "tags": [str(a.scenario)],
        }
        for a in chosen
    ]
    async with database.write_session() as session:
        outcomes = await accounts_service.upsert_accounts(
            session, rows, principal, egress=EgressGuard.trusting([url])
        )
    ids = [o.account_id for o in outcomes]
    assert all(isinstance(i, int) for i in ids), outcomes
    return {i: a for i, a in zip(ids, chosen, strict=True) if i is not None}
