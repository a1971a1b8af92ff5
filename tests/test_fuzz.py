"""Property-based API fuzzing with schemathesis against the app's own OpenAPI schema.

Every operation gets a bounded, derandomised run of valid and invalid requests (so CI sees the
same cases every time), sent with an admin key, and every answer must hold: no 5xx, the status
code and content type are declared, the body matches the declared schema, and invalid input is
refused. The database is seeded first (accounts in two regions, open and resolved flags, a
check, a webhook endpoint with a failed delivery), so small ids find rows and answers with a
body are checked against their schemas, not only 404s.

The app runs on SQLite only (PostgreSQL would double the time for no new finding here), its
lifespan in schemathesis' event-loop thread; upstream requests go to a closed local port, so a
check-now answers at once instead of reaching the internet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi

from app.auth import service as auth_service
from app.auth.schemas import Role
from app.config import Settings
from app.db import Database
from app.events.sender import Deliverer
from app.main import create_app
from tests.reports.registry import seed_registry

# Per operation, on top of the boundary cases of the coverage phase: about 2,300 requests in
# all, 49 s on this 2-core machine while other work ran on it.
MAX_EXAMPLES = 15
CLOSED_PORT = "http://127.0.0.1:4"

CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        # Valid by the schema is not valid by the rules here: a handle in its platform's form,
        # a cursor we issued, a silence ending in the future, one of ratio and size, a non-empty
        # file. Those answers are 400/422 problems by design, so this check stays off.
        "checks": {"positive_data_acceptance": {"enabled": False}},
    }
)


def _document() -> dict[str, object]:
    """The OpenAPI document; building it needs no database or lifespan."""
    return create_app(Settings(_env_file=None, database_url="sqlite+aiosqlite://")).openapi()


# Built from the document alone, so each test can point it at its own app (the fixture-based
# loader, schemathesis.pytest.from_fixture, fails on pytest 9). /metrics is Prometheus text
# outside the OpenAPI document, so it is not fuzzed.
schema = schemathesis.openapi.from_dict(_document(), config=CONFIG)


@dataclass
class Admin:
    """The admin key the fuzz cases send, minted again whenever a case revokes it."""

    database_url: str
    key_id: int = 0
    plain: str = ""
    minted: int = 0

    async def mint(self) -> None:
        """Create a fresh admin key directly in the database."""
        database = Database(self.database_url)
        try:
            async with database.write_session() as session:
                row, self.plain = await auth_service.create_key(
                    session, name=f"fuzz-{self.minted}", role=Role.ADMIN
                )
                assert row.id is not None
                self.key_id = row.id
                self.minted += 1
        finally:
            await database.dispose()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.plain}"}


async def _seed(settings: Settings, admin: Admin) -> None:
    """Accounts and flags in 2201 and 1101, one stored check, a webhook endpoint whose first
    delivery failed (it points at a closed port), and the events of that traffic."""
    database = Database(settings.database_url)
    try:
        await seed_registry(database)
    finally:
        await database.dispose()
    seeding = settings.model_copy(update={"webhook_allow_private": True})
    app = create_app(seeding)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            hook = await client.post(
                "/api/v1/webhooks", json={"url": f"{CLOSED_PORT}/hook"}, headers=admin.headers
            )
            checked = await client.post("/api/v1/accounts/1/checks", headers=admin.headers)
            archived = await client.delete("/api/v1/accounts/2", headers=admin.headers)
            assert [hook.status_code, checked.status_code, archived.status_code] == [201, 201, 200]
        deliverer = Deliverer(app.state.database, seeding)
        try:
            assert await deliverer.drain() >= 1
        finally:
            await deliverer.aclose()


@pytest.fixture
def fuzz_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"simulator_url": CLOSED_PORT, "http_timeout_s": 2})


@pytest.fixture
def admin(fuzz_settings: Settings) -> Admin:
    made = Admin(fuzz_settings.database_url)

    async def prepare() -> None:
        await made.mint()
        await _seed(fuzz_settings, made)

    asyncio.run(prepare())
    return made


@pytest.fixture
def fuzz_app(fuzz_settings: Settings) -> Iterator[FastAPI]:
    app = create_app(fuzz_settings)
    try:
        yield app
    finally:
        # The lifespan runs in schemathesis' event-loop thread from the first request on.
        asgi.shutdown_lifespans()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_holds_its_schema(case: schemathesis.Case, admin: Admin, fuzz_app: FastAPI) -> None:
    # Point the operation and its schema at this test's app: the checks' own probes (the same
    # request without a key, say) go through the schema's transport, not the call's.
    case.operation.app = case.operation.schema.app = fuzz_app
    response = case.call_and_validate(headers=admin.headers)
    revoked_own_key = (
        case.method == "DELETE"
        and case.path == "/api/v1/keys/{key_id}"
        and response.status_code == 200
        and response.json()["id"] == admin.key_id
    )
    if revoked_own_key:
        asyncio.run(admin.mint())
