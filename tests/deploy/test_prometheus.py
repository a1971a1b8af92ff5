"""End to end: a real Prometheus scrapes a running `liveness serve` and every dashboard panel's
query returns data.

The service runs on a SQLite file against the simulator's scripted population (alive, stale,
silent, gone, blocked … accounts, so flags and zombies appear on the first checks), with the
embedded scheduler on short intervals and a webhook endpoint on a local receiver. Prometheus
(Debian's package) scrapes it every second with the shipped alert rules loaded. Waiting is
bounded; both processes are always stopped.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from app.db import Database, utcnow
from app.migrations import upgrade
from tests.deploy.support import (
    ROOT,
    dashboards,
    instant,
    label_values,
    panel_queries,
    prometheus_config,
    tool,
    variable_query,
    variables,
)
from tests.events.receiver import running_receiver
from tests.events.test_delivery import add_endpoint
from tests.support import register_population, running_simulator

DEADLINE_S = 120
# What must become true, beyond "returns data": real work reached the counters.
PROGRESS = {
    "checks were made": "sum(liveness_checks_total) > 0",
    "webhooks were delivered": 'sum(liveness_webhook_deliveries_total{outcome="success"}) > 0',
    "the scheduler ticks": "time() - liveness_scheduler_last_tick_timestamp_seconds < 30",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _process(command: list[str], env: dict[str, str], log: Path) -> Iterator[None]:
    """Run ``command`` with output to ``log``; terminate (then kill) it at the end."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_up(url: str, log: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer; log:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


async def _seed(database_url: str, simulator: tuple[str, Any], receiver_url: str) -> None:
    url, sim = simulator
    database = Database(database_url)
    try:
        await register_population(database, sim.state.population, url)
        await add_endpoint(database, receiver_url, now=utcnow())
    finally:
        await database.dispose()


def _service_env(database_url: str, simulator_url: str, token_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVENESS_")}
    env.update(
        PYTHONPATH=str(ROOT),
        LIVENESS_DATABASE_URL=database_url,
        LIVENESS_SIMULATOR_URL=simulator_url,
        LIVENESS_POLICY="demo",
        LIVENESS_CHECK_INTERVAL_S="10",
        LIVENESS_CLAIM_INTERVAL_S="1",
        LIVENESS_GONE_CONFIRM_DELAY_S="5",
        LIVENESS_UNKNOWN_BACKOFF_S="5",
        LIVENESS_WEBHOOK_ALLOW_PRIVATE="true",
        LIVENESS_WEBHOOK_INTERVAL_S="0.5",
        LIVENESS_LOG_LEVEL="warning",
        LIVENESS_METRICS_TOKEN_FILE=str(token_file),
    )
    return env


def _prometheus_config(api_port: int, token_file: Path) -> dict[str, Any]:
    """The shipped config with 1 s scrapes, the API on its test port with the token from
    ``token_file``, the shipped rules; and the same target scraped without the token."""
    config = prometheus_config(token_file)
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    (api,) = [job for job in config["scrape_configs"] if job["job_name"] == "liveness-api"]
    api["static_configs"] = [{"targets": [f"127.0.0.1:{api_port}"]}]
    # No worker or scheduler processes in embedded mode. The tokenless job's name is outside
    # the dashboards' job=~"liveness-.*", so its failed scrapes show on no panel.
    bare = {k: v for k, v in api.items() if k != "authorization"} | {"job_name": "no-token"}
    config["scrape_configs"] = [api, bare]
    return config


def _has_data(prometheus: str, query: str) -> bool:
    """Whether ``query`` answers at least one finite sample now."""
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=10)
    body = response.json()
    assert body["status"] == "success", f"{query}: {body.get('error')}"
    data = body["data"]
    if data["resultType"] == "scalar":
        return math.isfinite(float(data["result"][1]))
    return any(math.isfinite(float(item["value"][1])) for item in data["result"])


def _labels_found(prometheus: str, selector: str, label: str) -> bool:
    response = httpx.get(
        f"{prometheus}/api/v1/label/{label}/values", params={"match[]": selector}, timeout=10
    )
    return bool(response.json()["data"])


def _expectations() -> dict[str, tuple[str, str]]:
    """What to ask Prometheus: panel queries and variable queries, by where they are used."""
    wanted: dict[str, tuple[str, str]] = {}
    for name, board in dashboards().items():
        for title, expr in panel_queries(board):
            wanted[f"{name}: {title}: {expr}"] = ("query", instant(expr))
        for variable in variables(board).values():
            if variable["type"] == "query":
                selector, label = label_values(variable_query(variable))
                wanted[f"{name}: ${variable['name']}"] = (label, instant(selector))
    for what, expr in PROGRESS.items():
        wanted[what] = ("query", expr)
    return wanted


def test_every_panel_query_returns_data(tmp_path: Path) -> None:
    prometheus_bin = tool("prometheus")
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'liveness.db'}"
    upgrade(database_url)
    api_port, prometheus_port = _free_port(), _free_port()
    token_file = tmp_path / "metrics_token"
    token_file.write_text(secrets.token_hex(32) + "\n")
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps(_prometheus_config(api_port, token_file)))
    prometheus = f"http://127.0.0.1:{prometheus_port}"
    wanted = _expectations()

    with running_simulator(90, 5) as simulator, running_receiver() as receiver:
        asyncio.run(_seed(database_url, simulator, receiver.url))
        serve_log, prometheus_log = tmp_path / "serve.log", tmp_path / "prometheus.log"
        serve = [sys.executable, "-m", "app.cli", "serve", "--port", str(api_port)]
        env = _service_env(database_url, simulator[0], token_file)
        with _process(serve, env, serve_log):
            _wait_until_up(f"http://127.0.0.1:{api_port}/healthz", serve_log)
            command = [
                prometheus_bin,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
                "--log.level=warn",
            ]
            with _process(command, dict(os.environ), prometheus_log):
                _wait_until_up(f"{prometheus}/-/ready", prometheus_log)
                empty = dict(wanted)
                deadline = time.monotonic() + DEADLINE_S
                while empty and time.monotonic() < deadline:
                    for where, (kind, query) in list(empty.items()):
                        found = (
                            _has_data(prometheus, query)
                            if kind == "query"
                            else _labels_found(prometheus, query, kind)
                        )
                        if found:
                            del empty[where]
                    if empty:
                        time.sleep(1)
                rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()
                targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()

    assert not empty, (
        f"still no data after {DEADLINE_S} s for:\n  "
        + "\n  ".join(empty)
        + f"\nservice log:\n{serve_log.read_text()[-2000:]}"
        + f"\nprometheus log:\n{prometheus_log.read_text()[-2000:]}"
    )
    health = {t["labels"]["job"]: t for t in targets["data"]["activeTargets"]}
    assert health["liveness-api"]["health"] == "up", health["liveness-api"]["lastError"]
    assert health["no-token"]["health"] == "down"  # /metrics refused it
    assert "401" in health["no-token"]["lastError"], health["no-token"]["lastError"]
    assert token_file.read_text().strip() not in serve_log.read_text()
    loaded = [rule for group in rules["data"]["groups"] for rule in group["rules"]]
    assert len(loaded) >= 4
    for rule in loaded:
        assert rule["health"] == "ok", f"{rule['name']}: {rule.get('lastError')}"
    assert receiver.received, "the webhook receiver got nothing"
