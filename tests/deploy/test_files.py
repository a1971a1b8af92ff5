"""The deployment files: Prometheus config and alert rules (promtool), docker-compose.yml, the
Dockerfile, and Grafana dashboards that read only metrics the service really exports."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import typer
import yaml
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from app.checks.pipeline import run_check
from app.cli import app as cli_app
from app.config import Settings
from app.db import Database
from tests.deploy.support import (
    GRAFANA_DIR,
    PROMETHEUS_DIR,
    ROOT,
    TOKEN_SECRET,
    alert_rules,
    dashboards,
    label_values,
    metric_names,
    panel_queries,
    panels,
    prometheus_config,
    tool,
    variable_query,
    variables,
)
from tests.support import register_population, running_simulator

LIVENESS_SERVICES = ("migrate", "api", "scheduler", "worker")


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_prometheus_config_and_rules_pass_promtool(tmp_path: Path) -> None:
    promtool = tool("promtool")
    # promtool checks that the token file exists: the compose secret is not here.
    token = tmp_path / "metrics_token"
    token.write_text("")
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps(prometheus_config(token)))
    for command in (
        ("check", "config", str(config)),
        ("check", "rules", str(PROMETHEUS_DIR / "alerts.yml")),
        ("test", "rules", "tests/deploy/alerts_test.yml"),
    ):
        result = _run(promtool, *command)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"promtool {' '.join(command)}:\n{output}"


def test_prometheus_scrapes_every_process() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["liveness-api"]["static_configs"][0]["targets"] == ["api:8000"]
    assert jobs["liveness-worker"]["dns_sd_configs"][0]["port"] == 9101
    assert jobs["liveness-scheduler"]["static_configs"][0]["targets"] == ["scheduler:9102"]
    for name, job in jobs.items():  # each sends the metrics token docker-compose mounts
        assert job["authorization"] == {"type": "Bearer", "credentials_file": TOKEN_SECRET}, name


def test_compose_hands_the_metrics_token_to_the_services_and_prometheus() -> None:
    document = _compose()
    services = document["services"]
    assert document["secrets"]["metrics_token"]["file"] == "${METRICS_TOKEN_FILE:-/dev/null}"
    assert TOKEN_SECRET == "/run/secrets/metrics_token"  # where compose mounts a secret
    for name in (*LIVENESS_SERVICES, "prometheus"):
        assert services[name]["secrets"] == ["metrics_token"], name
    for name in LIVENESS_SERVICES:
        environment = services[name]["environment"]
        assert environment["LIVENESS_METRICS_TOKEN_FILE"] == TOKEN_SECRET, name
        assert "LIVENESS_METRICS_TOKEN" not in environment, name  # a file, not the environment
        assert (
            environment["LIVENESS_METRICS_PER_ACCOUNT"] == "${LIVENESS_METRICS_PER_ACCOUNT:-true}"
        )


def test_alerts_carry_for_severity_and_links_to_real_dashboards() -> None:
    boards = {board["uid"]: board for board in dashboards().values()}
    rules = alert_rules()
    assert len(rules) >= 4
    for rule in rules:
        name = rule["alert"]
        assert rule.get("for"), f"{name} has no for:"
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], name
        link = urlsplit(annotations["dashboard_url"])
        uid = link.path.split("/")[2]
        assert link.path.startswith("/d/") and uid in boards, f"{name}: {link.path}"
        known = set(variables(boards[uid]))
        for parameter in parse_qs(link.query):
            assert parameter.removeprefix("var-") in known, f"{name}: unknown {parameter}"


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    return document


def test_docker_compose_validates() -> None:
    result = _run(tool("docker-compose"), "-f", "docker-compose.yml", "config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_runs_real_commands_and_settings() -> None:
    services = _compose()["services"]
    assert {"postgres", "migrate", "api", "scheduler", "worker", "prometheus", "grafana"} <= set(
        services
    )
    assert services["rsshub"]["profiles"] == ["rsshub"]
    assert "healthcheck" in services["postgres"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    cli = typer.main.get_command(cli_app)
    assert isinstance(cli, typer.core.TyperGroup)
    for name in LIVENESS_SERVICES:
        service = services[name]
        command = cli.commands[service["command"][0]]
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        given = {word for word in service["command"][1:] if word.startswith("--")}
        assert given <= options, f"{name}: {sorted(given - options)} are not options"
        for variable in service["environment"]:
            field = variable.removeprefix("LIVENESS_").lower()
            assert field in Settings.model_fields, f"{name}: {variable} is no setting"
        if name != "migrate":
            assert service["depends_on"]["migrate"]["condition"] == (
                "service_completed_successfully"
            )
    assert services["api"]["environment"]["LIVENESS_EXECUTOR"] == "procrastinate"
    for name, path in (("prometheus", "deploy/prometheus"), ("grafana", "deploy/grafana")):
        mounts = " ".join(services[name]["volumes"])
        assert f"./{path}" in mounts, f"{name} does not mount {path}"


def test_dockerfile_runs_the_cli_as_a_user() -> None:
    lines = (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
    assert [s for s in lines if s.startswith("FROM ")] == ["FROM python:3.11-slim"]
    users = [s.split()[1] for s in lines if s.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["liveness"]' in lines
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert {".git", ".venv", "tests"} <= set(ignored)


def test_grafana_provisioning() -> None:
    providers = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "dashboards" / "liveness.yaml").read_text("utf-8")
    )["providers"]
    assert [p["type"] for p in providers] == ["file"]
    assert providers[0]["allowUiUpdates"] is False
    assert providers[0]["options"]["foldersFromFilesStructure"] is True
    sources = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yaml").read_text("utf-8")
    )["datasources"]
    assert [s["type"] for s in sources] == ["prometheus"]


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_dashboard_shape(name: str) -> None:
    board = dashboards()[name]
    assert board["uid"] == name.removesuffix(".json")
    assert board["id"] is None
    assert "liveness" in board["tags"] and board["schemaVersion"] >= 36
    found = variables(board)
    assert found["datasource"]["type"] == "datasource"
    assert found["datasource"]["query"] == "prometheus"
    for label in ("platform", "region"):
        variable = found[label]
        assert variable["type"] == "query" and variable["multi"] and variable["includeAll"]
        _selector, queried = label_values(variable_query(variable))
        assert queried == label
    ids = [panel["id"] for panel in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels(board):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    queries = " ".join(expr for _title, expr in panel_queries(board))
    assert "$platform" in queries and "$region" in queries


def test_zombie_table_links_to_the_account() -> None:
    board = dashboards()["liveness-overview.json"]
    (table,) = [p for p in panels(board) if p["type"] == "table" and "zombie" in p["title"].lower()]
    (expr,) = [t["expr"] for t in table["targets"]]
    assert "group_left" in expr and 'flag="zombie"' in expr
    links = [
        link["url"]
        for override in table["fieldConfig"]["overrides"]
        for prop in override["properties"]
        if prop["id"] == "links"
        for link in prop["value"]
    ]
    assert links == ["${api_url}/api/v1/accounts/${__data.fields.account_id}"]


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[str, Any]]:
    with running_simulator(45, 3) as running:
        yield running


@pytest.fixture
def settings(database_url: str, simulator: tuple[str, Any]) -> Settings:
    """The API against the simulator, scheduler off: the test checks accounts itself."""
    return Settings(
        _env_file=None,
        database_url=database_url,
        scheduler_enabled=False,
        simulator_url=simulator[0],
    )


async def test_dashboards_and_alerts_read_only_exported_metrics(
    app: FastAPI, client: httpx.AsyncClient, database: Database, simulator: tuple[str, Any]
) -> None:
    url, sim = simulator
    registered = await register_population(database, sim.state.population, url)
    await asyncio.gather(*(run_check(app.state.runner, i) for i in registered))
    response = await client.get("/metrics")
    assert response.status_code == 200
    families = list(text_string_to_metric_families(response.text))
    exported = {s.name for f in families if f.name.startswith("liveness_") for s in f.samples}
    assert "liveness_account_flag_open" in exported, "the population should open some flags"

    used: dict[str, set[str]] = {}
    for name, board in dashboards().items():
        for title, expr in panel_queries(board):
            if expr.startswith("up{"):
                continue  # Prometheus's own scrape health of the liveness jobs
            used.setdefault(f"{name}: {title}", set()).update(metric_names(expr))
        for variable in variables(board).values():
            if variable["type"] == "query":
                selector, _label = label_values(variable_query(variable))
                used.setdefault(f"{name}: ${variable['name']}", set()).update(
                    metric_names(selector)
                )
    for rule in alert_rules():
        used[f"alert {rule['alert']}"] = metric_names(rule["expr"])
    for where, names in used.items():
        assert names, f"{where} reads no liveness_ metric"
        assert names <= exported, f"{where} reads {sorted(names - exported)}, not exported"
    # And the other way round: every family the API serves is on a dashboard.
    shown = {n.removesuffix("_bucket") for names in used.values() for n in names}
    served = {f.name for f in families if f.name.startswith("liveness_")}
    shown_families = {n.removesuffix("_total") for n in shown}
    assert served <= shown_families, f"not on any dashboard: {sorted(served - shown_families)}"
