"""Security review as tests: keys are compared in constant time, and no secret reaches a log line
or stderr. Region scopes on every route are in tests/test_security_scopes.py."""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text
from typer.testing import CliRunner

from app.auth import service as auth_service
from app.cli import app as cli
from app.config import Settings, get_settings
from app.db import Database
from app.events.sender import Deliverer
from app.events.signing import verify
from tests.conftest import Keys
from tests.events.receiver import Receiver, running_receiver
from tests.support import register_population, running_simulator

COOKIES = {
    "weibo_cookie": "SUB=weibo-cookie-value-4f1c9a",
    "douyin_cookie": "sessionid=douyin-cookie-value-77ab20",
    "wechat_cookie": "slave_sid=wechat-cookie-value-c0ffee",
    "wechat_token": "wechat-token-9931",
}


async def test_key_lookup_compares_hashes_in_constant_time(
    database: Database, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth_service.hmac, "compare_digest", spy)
    async with database.read_session() as session:
        found = await auth_service.authenticate(session, keys.admin)
        assert found is not None
        assert compared == [(auth_service.hash_key(keys.admin),) * 2]
        compared.clear()
        # A near miss finds no row by hash, so no secret is ever compared byte by byte.
        assert await auth_service.authenticate(session, keys.admin[:-1] + "x") is None


async def test_every_request_authenticates_through_the_constant_time_compare(
    client: httpx.AsyncClient, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[str] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append(b)
        return real(a, b)

    monkeypatch.setattr(auth_service.hmac, "compare_digest", spy)
    for key in (keys.viewer, keys.scoped_operator):
        response = await client.get("/api/v1/accounts", headers=keys.header(key))
        assert response.status_code == 200
    assert compared == [
        auth_service.hash_key(keys.viewer),
        auth_service.hash_key(keys.scoped_operator),
    ]


def test_webhook_signatures_are_checked_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    compared: list[str] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append(b)
        return real(a, b)

    monkeypatch.setattr("app.events.signing.hmac.compare_digest", spy)
    assert not verify(secret, "msg_1", 1_700_000_000, b"{}", "v1,bm9wZQ== v1,YWxzbw==")
    assert compared == ["v1,bm9wZQ==", "v1,YWxzbw=="]


# ---- no secret in any log line -------------------------------------------------------------


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[str, object]]:
    with running_simulator(30, 7) as running:
        yield running


@pytest.fixture
def settings(settings: Settings, simulator: tuple[str, object]) -> Settings:
    """Cookies set, platforms simulated, webhooks allowed to the local receiver."""
    secrets = {name: SecretStr(value) for name, value in COOKIES.items()}
    return settings.model_copy(
        update={"simulator_url": simulator[0], "webhook_allow_private": True, **secrets}
    )


def _cli_create_key(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """`liveness keys create` as an operator runs it: the key on stdout, the rest elsewhere."""
    monkeypatch.setenv("LIVENESS_DATABASE_URL", settings.database_url)
    for name, value in COOKIES.items():
        monkeypatch.setenv(f"LIVENESS_{name.upper()}", value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["keys", "create", "--role", "admin", "--name", "cli"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lv_")
    return lines[0], result.stderr


async def _deliver(app: FastAPI, settings: Settings, receiver: Receiver) -> None:
    deliverer = Deliverer(app.state.database, settings)
    try:
        await deliverer.drain()
    finally:
        await deliverer.aclose()


async def test_no_secret_in_any_log_line_or_stderr(
    app: FastAPI,
    client: httpx.AsyncClient,
    database: Database,
    keys: Keys,
    settings: Settings,
    simulator: tuple[str, object],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = keys.header(keys.admin)
    made = await client.post(
        "/api/v1/keys", json={"name": "api", "role": "operator"}, headers=admin
    )
    api_key = made.json()["key"]
    assert (await client.get("/api/v1/accounts", headers=keys.header(api_key))).status_code == 200
    assert (
        await client.get("/api/v1/accounts", headers=keys.header("lv_wrong"))
    ).status_code == 401
    cli_key, cli_stderr = await asyncio.to_thread(_cli_create_key, settings, monkeypatch)
    assert (await client.get("/api/v1/keys", headers=keys.header(cli_key))).status_code == 200

    url, simulated = simulator
    registered = await register_population(
        database,
        simulated.state.population,  # type: ignore[attr-defined]
        url,
        platforms={"weibo", "douyin", "wechat"},
    )
    answered_ok: set[str] = set()
    for account_id, scripted in registered.items():
        platform = scripted.platform  # type: ignore[attr-defined]
        if platform not in answered_ok:
            checked = await client.post(f"/api/v1/accounts/{account_id}/checks", headers=admin)
            assert checked.status_code == 201, checked.text
            if checked.json()["outcome"] == "ok":
                answered_ok.add(platform)
    # The cookies and the token were sent: each platform answered a logged-in source.
    assert answered_ok == {"weibo", "douyin", "wechat"}

    with running_receiver() as receiver:
        hook = await client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=admin)
        first_secret = hook.json()["secret"]
        rotated = await client.post(
            f"/api/v1/webhooks/{hook.json()['id']}/rotate-secret", headers=admin
        )
        second_secret = rotated.json()["secret"]
        created = await client.post(
            "/api/v1/accounts",
            json={
                "platform": "weibo",
                "handle": "1999999999",
                "name": "长春发布",
                "region_code": "220102",
            },
            headers=admin,
        )
        assert created.status_code == 201
        await _deliver(app, settings, receiver)
        assert receiver.received, "the webhook was not delivered"
        signed = receiver.received[-1]
        assert verify(
            second_secret,
            signed.msg_id,
            int(signed.headers["webhook-timestamp"]),
            signed.body,
            signed.headers["webhook-signature"],
        )

    plain_keys = [keys.admin, keys.operator, keys.viewer, keys.scoped_operator, api_key, cli_key]
    secrets = {
        *plain_keys,
        *(auth_service.hash_key(k) for k in plain_keys),
        *(s for secret in (first_secret, second_secret) for s in (secret, secret[6:])),
        *COOKIES.values(),
    }
    captured = capsys.readouterr()
    logged = "\n".join(
        [caplog.text, *(r.getMessage() for r in caplog.records), captured.err, cli_stderr]
    )
    assert len(caplog.records) > 10, "the flow logged too little for this test to mean much"
    leaks = sorted(s for s in secrets if s in logged)
    assert leaks == [], f"secrets in the logs: {[s[:12] + '…' for s in leaks]}"
    assert not [s for s in secrets if s in captured.out]
    # Nor in what the API shows: check evidence names the URL it fetched, token redacted.
    shown = (await client.get("/api/v1/checks", headers=admin)).text
    assert "&token=***&" in shown
    assert not [s for s in secrets if s in shown]


_INSERT_KEY = "INSERT INTO api_key (id, name, prefix, key_hash, role) VALUES (1, :n, 'p', :h, 'r')"


async def test_database_errors_are_logged_without_their_values(
    app: FastAPI,
    client: httpx.AsyncClient,
    database: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # PostgreSQL puts the failing row in its message (DETAIL), SQLAlchemy the statement's
    # parameters; a bug that fails an insert must not write the secret it was storing.
    secret = "whsec_" + base64.b64encode(b"s" * 32).decode()

    async def failing_insert() -> None:
        async with database.write_session() as session:
            await session.exec(text(_INSERT_KEY), params={"n": secret, "h": secret})  # type: ignore[call-overload]

    app.add_api_route("/failing-insert", failing_insert)
    response = await client.get("/failing-insert")
    assert response.status_code == 500
    assert "api_key" in caplog.text and "IntegrityError" in caplog.text
    assert secret not in caplog.text
