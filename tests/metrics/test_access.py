"""LIVENESS_METRICS_TOKEN: /metrics on the API and on the scheduler's and workers' metrics
servers answer only its bearer (401 problem details otherwise); the token is never shown."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError

from app.config import Settings
from app.main import create_app
from app.metrics.process import serve_process_metrics
from tests.conftest import Keys

TOKEN = "mt_0123456789abcdef0123456789abcdef"


def _bearer(value: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {value}"}


@asynccontextmanager
async def _api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@contextmanager
def _process_server(settings: Settings) -> Iterator[str]:
    server = serve_process_metrics(0, settings)
    assert server is not None
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def _assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["status"] == 401 and body["instance"] == "/metrics"
    assert "LIVENESS_METRICS_TOKEN" in body["detail"]
    assert TOKEN not in response.text


async def test_the_api_metrics_need_the_token_when_set(
    settings: Settings, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with _api(settings) as client:  # unset: open, as before
        assert (await client.get("/metrics")).status_code == 200
    guarded = settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
    async with _api(guarded) as client:
        _assert_refused(await client.get("/metrics"))
        _assert_refused(await client.get("/metrics", headers=_bearer(TOKEN[:-1] + "0")))
        _assert_refused(await client.get("/metrics", headers=_bearer(TOKEN, "Basic")))
        # An API key is not the metrics token (unless LIVENESS_METRICS_REQUIRE_KEY says so).
        _assert_refused(await client.get("/metrics", headers=keys.header(keys.admin)))
        scraped = await client.get("/metrics", headers=_bearer(TOKEN))
        assert scraped.status_code == 200
        assert "liveness_accounts" in scraped.text
        assert (await client.get("/metrics", headers=_bearer(TOKEN, "bearer"))).status_code == 200
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(guarded) and TOKEN not in str(guarded.model_dump())


async def test_token_and_key_requirement_together_admit_either(
    settings: Settings, keys: Keys
) -> None:
    both = settings.model_copy(
        update={
            "metrics_token": SecretStr(TOKEN),
            "metrics_require_key": True,
        }
    )
    async with _api(both) as client:
        assert (await client.get("/metrics", headers=_bearer(TOKEN))).status_code == 200
        assert (await client.get("/metrics", headers=keys.header(keys.viewer))).status_code == 200
        assert (
            await client.get("/metrics", headers=keys.header(keys.scoped_viewer))
        ).status_code == 403
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=_bearer("x" * 40))).status_code == 401


def test_the_scheduler_and_worker_metrics_servers_need_the_token_when_set(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with _process_server(Settings(_env_file=None)) as url:  # unset: open
        assert httpx.get(url, timeout=5).status_code == 200
    with _process_server(Settings(_env_file=None, metrics_token=TOKEN)) as url:
        _assert_refused(httpx.get(url, timeout=5))
        _assert_refused(httpx.get(url, headers=_bearer(TOKEN.upper()), timeout=5))
        _assert_refused(httpx.get(url, headers=_bearer(TOKEN, "Basic"), timeout=5))
        scraped = httpx.get(url, headers=_bearer(TOKEN), timeout=5)
        assert scraped.status_code == 200
        assert "liveness_checks_total" in scraped.text
    assert TOKEN not in caplog.text


def test_the_token_setting(tmp_path: Path) -> None:
    assert Settings(_env_file=None).metrics_token is None
    assert Settings(_env_file=None, metrics_token="").metrics_token is None  # compose's unset
    for weak in ("short-token", "a token with spaces in it", "令牌令牌令牌令牌令牌令牌令牌令牌"):
        with pytest.raises(ValidationError) as refused:
            Settings(_env_file=None, metrics_token=weak)
        assert "LIVENESS_METRICS_TOKEN" in str(refused.value)
        assert weak not in str(refused.value)
    secret = tmp_path / "metrics_token"
    secret.write_text(f"{TOKEN}\n", encoding="utf-8")
    read = Settings(_env_file=None, metrics_token_file=secret).metrics_token
    assert read is not None and read.get_secret_value() == TOKEN
    secret.write_text("", encoding="utf-8")
    assert Settings(_env_file=None, metrics_token_file=secret).metrics_token is None
    with pytest.raises(ValidationError, match="not both"):
        Settings(_env_file=None, metrics_token=TOKEN, metrics_token_file=secret)
    with pytest.raises(ValidationError, match="LIVENESS_METRICS_TOKEN_FILE"):
        Settings(_env_file=None, metrics_token_file=tmp_path / "missing")
