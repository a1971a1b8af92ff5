"""Webhooks pass the egress guard: private targets are refused at create, at update and at
connect time (app/egress.py; the monitored URLs' side is tests/test_egress.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import httpx
import pytest

from app.config import Settings
from app.db import Database
from app.egress import BlockedURL, EgressGuard, GuardedResolver
from app.events.sender import Deliverer
from app.events.webhook_models import WebhookDelivery
from app.main import create_app
from tests.conftest import Keys
from tests.events.receiver import running_receiver
from tests.events.test_delivery import add_endpoint, add_events, deliveries
from tests.support import FixedDNS

BLOCKED = [
    ("http://127.0.0.1/hook", "loopback"),
    ("http://10.1.2.3/hook", "private"),
    ("http://192.168.0.10:8080/hook", "private"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://[fd00:ec2::254]/", "cloud metadata"),
    ("http://[::1]:8080/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://localhost:8000/hook", "loopback"),  # a name that is loopback whatever DNS says
]
GUARD = EgressGuard.for_webhooks(Settings(_env_file=None))
OPEN = EgressGuard.for_webhooks(Settings(_env_file=None, webhook_allow_private=True))


@pytest.mark.parametrize(("url", "reason"), BLOCKED)
async def test_private_targets_are_refused(url: str, reason: str) -> None:
    with pytest.raises(BlockedURL, match=reason):
        await GUARD.check_resolved(url)
    await OPEN.check_resolved(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/", "https:// or http://"),
        ("https://user:pw@example.com/", "credentials"),
        ("https:///path", "no host"),
        ("https://example.com:99999/", "not valid"),
    ],
)
async def test_bad_urls_are_refused_even_when_private_is_allowed(url: str, message: str) -> None:
    with pytest.raises(BlockedURL, match=message):
        await OPEN.check_resolved(url)


@pytest.fixture
async def guarded_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(_env_file=None, database_url=database_url, scheduler_enabled=False)
    assert settings.webhook_allow_private is False
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_the_api_refuses_private_urls(guarded_client: httpx.AsyncClient, keys: Keys) -> None:
    admin = keys.header(keys.admin)
    for url, reason in BLOCKED:
        response = await guarded_client.post("/api/v1/webhooks", json={"url": url}, headers=admin)
        assert response.status_code == 422, url
        assert response.json()["errors"][0]["field"] == "url"
        assert reason in response.json()["detail"]
    listed = await guarded_client.get("/api/v1/webhooks", headers=admin)
    assert listed.json()["items"] == []


async def _drain_guarded(database: Database, settings: Settings) -> None:
    """Send what is due once, with the SSRF guard on."""
    guarded = settings.model_copy(update={"webhook_allow_private": False})
    deliverer = Deliverer(database, guarded)
    try:
        await deliverer.drain(datetime(2026, 11, 23, tzinfo=UTC))
    finally:
        await deliverer.aclose()


async def _deliver_once_guarded(
    database: Database, settings: Settings, *, host: str
) -> WebhookDelivery:
    """One event to a receiver on 127.0.0.1 addressed by ``host``, with the guard on; the
    delivery row after one attempt (the receiver must have got nothing)."""
    with running_receiver() as receiver:
        await add_endpoint(database, receiver.url.replace("127.0.0.1", host))
        await add_events(database, 1)
        await _drain_guarded(database, settings)
    assert receiver.received == []
    [row] = await deliveries(database)
    return row


async def test_a_blocked_delivery_fails_with_a_clear_error(
    database: Database, settings: Settings
) -> None:
    """An endpoint stored while allowed (or whose DNS changed) is re-checked before sending."""
    row = await _deliver_once_guarded(database, settings, host="127.0.0.1")
    assert row.status == "pending" and row.attempts == 1 and row.last_status_code is None
    assert row.last_error is not None and row.last_error.startswith(
        "blocked: 127.0.0.1 is a loopback address"
    )
    assert "LIVENESS_WEBHOOK_ALLOW_PRIVATE" in row.last_error


async def test_a_name_answering_loopback_is_not_connected_to(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard judges the answer the connection uses: a public-looking name that the
    resolver answers with loopback (DNS rebinding) reaches nothing."""
    monkeypatch.setattr(aiohttp, "DefaultResolver", lambda: FixedDNS("127.0.0.1"))
    row = await _deliver_once_guarded(database, settings, host="hooks.example.com")
    assert row.status == "pending" and row.last_status_code is None
    assert row.last_error is not None
    assert "hooks.example.com resolves to 127.0.0.1, a loopback address" in row.last_error


@pytest.mark.parametrize(
    ("address", "host", "refused"),
    [
        ("10.0.0.8", "hooks.example.com", True),
        ("fe80::1%eth0", "hooks.example.com", True),
        ("93.184.216.34", "hooks.example.com", False),
        ("10.0.0.8", "proxy.corp.example", False),  # the configured proxy may be private
    ],
)
async def test_the_guarded_resolver_refuses_blocked_answers(
    address: str, host: str, refused: bool
) -> None:
    guard = EgressGuard(trusted=frozenset({("proxy.corp.example", None)}))
    resolver = GuardedResolver(guard, FixedDNS(address))
    if refused:
        with pytest.raises(OSError, match=f"{host} resolves to"):
            await resolver.resolve(host, 443)
    else:
        [answer] = await resolver.resolve(host, 443)
        assert answer["host"] == address
    await resolver.close()


async def test_deliveries_may_go_through_a_proxy_on_a_private_address(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proxy resolves the receiver itself; its own address is not the guard's to refuse."""
    requests: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append((await reader.readuntil(b"\r\n\r\n")).split(b"\r\n", 1)[0])
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://localhost:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with server:
        await add_endpoint(database, "http://hooks.example.com/liveness")
        await add_events(database, 1)
        await _drain_guarded(database, settings)
    assert requests == [b"POST http://hooks.example.com/liveness HTTP/1.1"]
    [row] = await deliveries(database)
    assert row.status == "succeeded" and row.last_status_code == 204, row.last_error
