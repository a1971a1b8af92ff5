"""Monitored URLs pass the egress guard (app/egress.py): on real sockets, no check and no
redirect reaches a loopback server holding a secret, registration refuses what it can see
without DNS, and a network the operator allowed is checked as any site."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
import httpx
import pytest
from sqlmodel import select

from app.accounts.models import Account
from app.config import Settings
from app.db import Database, utcnow
from app.egress import EgressGuard, blocked_reason, literal_address
from app.main import create_app
from tests.conftest import Keys
from tests.support import FixedDNS

SECRET = "secret-7f3a9c"
INTERVAL_S = 6 * 3600


@dataclass
class Site:
    """A real HTTP server on a loopback address, and the paths it was asked for."""

    host: str
    port: int
    hits: list[str] = field(default_factory=list)

    def url(self, path: str = "/secret", host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"


def _page(title: str) -> bytes:
    body = f"<html><head><title>{title}</title></head><body><p>{title} 2026-11-30</p></body>"
    data = body.encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data


def _redirect(location: str) -> bytes:
    return f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()


@asynccontextmanager
async def serving(host: str, respond: Callable[[str], bytes]) -> AsyncIterator[Site]:
    """Serve ``respond(path)`` on a free port of ``host``, recording every request's path."""
    site: Site | None = None

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ", 2)[1].decode()
        assert site is not None
        site.hits.append(path)
        writer.write(respond(path))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, host, 0)
    site = Site("[::1]" if ":" in host else host, server.sockets[0].getsockname()[1])
    async with server:
        yield site


@asynccontextmanager
async def api(settings: Settings, **changes: object) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(settings.model_copy(update=changes))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def _stored(database: Database, platform: str, handle: str) -> int:
    """An account written straight to the table, as one registered before the guard was."""
    async with database.write_session() as session:
        account = Account(platform=platform, handle=handle, name="县政府", region_code="220102")
        session.add(account)
        await session.flush()
        assert account.id is not None
        return account.id


async def _check_now(client: httpx.AsyncClient, keys: Keys, account_id: int) -> dict[str, object]:
    response = await client.post(
        f"/api/v1/accounts/{account_id}/checks", headers=keys.header(keys.operator)
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def _assert_refused(observation: dict[str, object], reason: str) -> None:
    assert observation["outcome"] == "error" and observation["outcome_class"] == "unknown"
    evidence = observation["evidence"]
    assert isinstance(evidence, dict) and evidence["marker"] == "egress refused", observation
    assert reason in str(observation["error"])
    assert SECRET not in str(observation)


@pytest.fixture
async def secret() -> AsyncIterator[Site]:
    async with serving("127.0.0.1", lambda _path: _page(SECRET)) as site:
        yield site


@pytest.mark.parametrize("platform", ["website", "rss"])
async def test_no_check_reaches_a_loopback_server(
    platform: str, settings: Settings, database: Database, keys: Keys, secret: Site
) -> None:
    spellings = [
        secret.url(),
        secret.url(host="0.0.0.0"),  # noqa: S104 - a URL, not a bind
        secret.url(host="0x7f000001"),
        secret.url(host="2130706433"),
        secret.url(host="127.1"),
        secret.url(host="localhost"),
        secret.url(host="LocalHost."),
        secret.url(host="[::ffff:127.0.0.1]"),
        secret.url(host="[::ffff:7f00:1]"),
        secret.url(host="[2002:7f00:1::]"),  # 6to4 of 127.0.0.1
    ]
    async with serving("::1", lambda _path: _page(SECRET)) as secret6, api(settings) as client:
        spellings.append(secret6.url())
        for handle in spellings:
            observation = await _check_now(client, keys, await _stored(database, platform, handle))
            _assert_refused(observation, "not connecting")
        assert secret6.hits == []
    assert secret.hits == []
    async with database.read_session() as session:
        accounts = (await session.exec(select(Account))).all()
    assert {a.observed_name for a in accounts} == {None}
    assert all(a.last_outcome == "error" for a in accounts)


@pytest.mark.parametrize(
    ("handle", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://100.100.100.200/latest/meta-data/", "cloud metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"),
        ("http://10.1.2.3/", "private"),
        ("http://100.64.0.1/", "not globally routable"),  # carrier-grade NAT
        ("http://[fd12:3456::1]/", "private"),  # unique-local
        ("http://224.0.0.1/", "multicast"),
        ("http://user:pw@www.example.gov.cn/", "credentials"),
        ("http://www.example.gov.cn:25/", "port 25"),
    ],
)
async def test_metadata_and_private_addresses_are_never_connected_to(
    handle: str, reason: str, settings: Settings, database: Database, keys: Keys
) -> None:
    async with api(settings) as client:
        observation = await _check_now(client, keys, await _stored(database, "website", handle))
    _assert_refused(observation, reason)


async def test_a_name_resolving_to_loopback_is_refused_at_connect_time(
    settings: Settings,
    database: Database,
    keys: Keys,
    secret: Site,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Registration cannot see where a name leads; the connection can."""
    handle = secret.url(host="www.example.gov.cn")
    monkeypatch.setattr(aiohttp, "DefaultResolver", lambda: FixedDNS("127.0.0.1"))
    async with api(settings) as client:
        created = await client.post(
            "/api/v1/accounts",
            json={"platform": "website", "handle": handle, "name": "x", "region_code": "220102"},
            headers=keys.header(keys.scoped_operator),
        )
        assert created.status_code == 201, created.text
        observation = await _check_now(client, keys, created.json()["id"])
    _assert_refused(observation, "www.example.gov.cn resolves to 127.0.0.1, a loopback address")
    assert secret.hits == []


async def test_an_allowed_network_is_checked_and_its_redirect_inside_is_refused(
    settings: Settings, database: Database, keys: Keys, secret: Site
) -> None:
    """A site on a network the operator allowed (127.0.0.2 standing in for an intranet) is
    checked; its redirect to 127.0.0.1 is a new connection and refused, on every hop."""

    def intranet(path: str) -> bytes:
        return _redirect(secret.url()) if path == "/moved" else _page("内网政府网站")

    allowed = Settings(_env_file=None, monitor_allowed_networks="127.0.0.2/32")  # type: ignore[arg-type]
    async with (
        serving("127.0.0.2", intranet) as site,
        api(settings, monitor_allowed_networks=allowed.monitor_allowed_networks) as client,
    ):
        operator = keys.header(keys.scoped_operator)
        ids = []
        for path in ("/", "/moved"):
            row = {
                "platform": "website",
                "handle": site.url(path),
                "name": "内网",
                "region_code": "220102",
            }
            created = await client.post("/api/v1/accounts", json=row, headers=operator)
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        home, moved = [await _check_now(client, keys, i) for i in ids]
    assert home["outcome"] == "ok" and home["display_name"] == "内网政府网站"
    _assert_refused(moved, "127.0.0.1 is a loopback address")
    assert moved["evidence"]["final_url"] == secret.url()  # type: ignore[index]
    assert site.hits == ["/", "/moved"] and secret.hits == []


async def test_a_redirect_from_a_public_site_to_loopback_is_refused(
    settings: Settings,
    database: Database,
    keys: Keys,
    secret: Site,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A public-looking name (its DNS says a public address, here a trusted stand-in) that
    redirects inside: the hop to loopback is refused."""
    async with serving("127.0.0.1", lambda _path: _redirect(secret.url())) as public:
        guard_trusts = f"127.0.0.1:{public.port}"
        async with api(settings, trusted_upstreams=[guard_trusts]) as client:
            observation = await _check_now(
                client, keys, await _stored(database, "website", public.url("/"))
            )
    _assert_refused(observation, "127.0.0.1 is a loopback address")
    assert public.hits == ["/"] and secret.hits == []


async def test_a_refused_check_waits_a_whole_interval(
    settings: Settings, database: Database, keys: Keys, secret: Site
) -> None:
    """Unknown answers are asked again after minutes; a refusal will not change by then."""
    account_id = await _stored(database, "website", secret.url())
    async with api(settings, check_interval_s=INTERVAL_S) as client:
        before = utcnow()
        _assert_refused(await _check_now(client, keys, account_id), "loopback")
    async with database.read_session() as session:
        account = await session.get(Account, account_id)
    assert account is not None and account.next_check_at is not None
    due = account.next_check_at.replace(tzinfo=before.tzinfo) - before
    assert due >= timedelta(seconds=INTERVAL_S * (1 - settings.check_jitter) - 5)
    assert secret.hits == []


REFUSED_AT_REGISTRATION = [
    ("http://127.0.0.1:8000/metrics", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://0x7f000001/", "loopback"),
    ("http://localhost:8000/", "loopback"),
    ("http://sub.localhost/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://169.254.169.254/", "cloud metadata"),
    ("http://100.100.100.200/", "cloud metadata"),
    ("http://[fd00:ec2::254]/", "cloud metadata"),
    ("http://192.168.1.1/", "private"),
    ("https://admin:secret@www.example.gov.cn/", "credentials"),
    ("https://www.example.gov.cn:0/", "port 0"),
    ("https://www.example.gov.cn:22/", "port 22"),
    ("https://www.example.gov.cn:99999/", "not valid"),
]


@pytest.mark.parametrize("platform", ["website", "rss"])
async def test_registration_refuses_what_it_can_see(
    platform: str, settings: Settings, database: Database, keys: Keys
) -> None:
    operator = keys.header(keys.scoped_operator)
    async with api(settings) as client:
        for handle, reason in REFUSED_AT_REGISTRATION:
            row = {"platform": platform, "handle": handle, "name": "x", "region_code": "220102"}
            created = await client.post("/api/v1/accounts", json=row, headers=operator)
            assert created.status_code == 422, (handle, created.text)
            problem = created.json()
            assert problem["errors"] == [
                {"field": "handle", "message": problem["errors"][0]["message"]}
            ]
            assert reason in problem["detail"], (handle, problem)
        bulk = await client.post(
            "/api/v1/accounts:bulk",
            json={
                "items": [
                    {"platform": platform, "handle": h, "name": "x", "region_code": "220102"}
                    for h, _ in REFUSED_AT_REGISTRATION
                ]
            },
            headers=operator,
        )
        assert bulk.status_code == 200
        assert [r["errors"][0]["field"] for r in bulk.json()["rows"]] == ["handle"] * len(
            REFUSED_AT_REGISTRATION
        )
        sheet = "账号名称,平台,账号ID,行政区划代码\n" + "".join(
            f"x,{platform},{h},220102\n" for h, _ in REFUSED_AT_REGISTRATION
        )
        imported = await client.post(
            "/api/v1/accounts:import",
            files={"file": ("registry.csv", sheet.encode(), "text/csv")},
            headers=operator,
        )
        assert imported.status_code == 200, imported.text
        report = imported.json()
        assert report["failed"] == len(REFUSED_AT_REGISTRATION)
        assert {e["column"] for e in report["errors"]} == {"账号ID"}
        good = {"platform": platform, "handle": "https://www.example.gov.cn/", "name": "x"}
        created = await client.post(
            "/api/v1/accounts", json=good | {"region_code": "220102"}, headers=operator
        )
        assert created.status_code == 201
        patched = await client.patch(
            f"/api/v1/accounts/{created.json()['id']}",
            json={"handle": "http://127.0.0.1/"},
            headers=operator,
        )
        assert patched.status_code == 422 and patched.json()["errors"][0]["field"] == "handle"
    async with database.read_session() as session:
        handles = [a.handle for a in (await session.exec(select(Account))).all()]
    assert handles == ["https://www.example.gov.cn/"]


async def test_an_allowed_network_may_be_registered(settings: Settings, keys: Keys) -> None:
    row = {
        "platform": "website",
        "handle": "http://10.20.30.40/",
        "name": "x",
        "region_code": "220102",
    }
    operator = keys.header(keys.operator)
    async with api(settings) as client:
        refused = await client.post("/api/v1/accounts", json=row, headers=operator)
    networks = [ipaddress.ip_network("10.20.0.0/16")]
    async with api(settings, monitor_allowed_networks=networks) as client:
        allowed = await client.post("/api/v1/accounts", json=row, headers=operator)
    assert refused.status_code == 422 and allowed.status_code == 201


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
        ("2002:5db8:d822::1", None),  # 6to4 of a public address
        ("64:ff9b::5db8:d822", None),  # NAT64 of a public address (IPv6-only networks)
        ("64:ff9b::a00:1", "a private address"),  # NAT64 of 10.0.0.1
        ("2002:a9fe:a9fe::", "a cloud metadata address"),  # 6to4 of 169.254.169.254
        ("::ffff:169.254.169.254", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("fe80::1", "a link-local address"),
        ("100.64.0.1", "an address that is not globally routable"),
        ("0.0.0.0", "an unspecified address"),  # noqa: S104
        ("::", "an unspecified address"),
    ],
)
def test_blocked_reasons(address: str, reason: str | None) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7F.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("[::1]", "::1"),
        ("::ffff:7f00:1", "::ffff:7f00:1"),
        ("www.example.gov.cn", None),
        ("cafe", None),
        ("1.2.3.4.5", None),
    ],
)
def test_literal_addresses_in_every_spelling(host: str, address: str | None) -> None:
    found = literal_address(host)
    assert (None if found is None else str(found)) == address


def test_trusted_upstreams_and_allowed_networks_are_read_as_operators_write_them() -> None:
    settings = Settings(
        _env_file=None,
        trusted_upstreams="http://rsshub:1200, 10.0.0.5:8080",  # type: ignore[arg-type]
        monitor_allowed_networks="10.0.0.0/8,fd00::/8",  # type: ignore[arg-type]
        simulator_url="http://127.0.0.1:9000",
    )
    guard = EgressGuard.for_monitors(settings)
    assert guard.trusts("rsshub", 1200) and guard.trusts("10.0.0.5", 8080)
    assert guard.trusts("127.0.0.1", 9000) and not guard.trusts("127.0.0.1", 8000)
    assert guard.url_refusal("http://10.9.9.9/") is None
    assert guard.url_refusal("http://127.0.0.1:8000/metrics") is not None
    assert guard.url_refusal("http://127.0.0.1:9000/website/sites/x/") is None
    as_json = Settings(_env_file=None, monitor_allowed_networks='["127.0.0.2/32"]')  # type: ignore[arg-type]
    assert as_json.monitor_allowed_networks == [ipaddress.ip_network("127.0.0.2/32")]
    with pytest.raises(ValueError, match="names no host"):
        Settings(_env_file=None, trusted_upstreams="http://")  # type: ignore[arg-type]
