"""Reading the shipped Grafana dashboards and Prometheus rules, for the deploy tests."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
DASHBOARD_DIR = GRAFANA_DIR / "dashboards"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Where docker-compose.yml mounts the metrics token that every scrape job sends.
TOKEN_SECRET = "/run/secrets/metrics_token"

# Grafana's interval macros, replaced by a window several scrapes long.
_INTERVALS = re.compile(r"\$\{?__(rate_interval|interval|range)\}?")
# A dashboard variable: $name or ${name} or ${name:format}.
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_LIVENESS_NAME = re.compile(r"(?<![\w:])liveness_[A-Za-z0-9_]+")
_LABEL_VALUES = re.compile(r"^label_values\((.+),\s*(\w+)\)$", re.S)


def tool(name: str) -> str:
    """The path of a command-line tool; skip without it, except in CI where it must exist."""
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} must be installed in CI (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return path


def prometheus_config(token_file: Path) -> dict[str, Any]:
    """The shipped Prometheus config as it runs outside compose: the rule files by full path and
    every job's bearer token read from ``token_file`` instead of the compose secret."""
    config: dict[str, Any] = yaml.safe_load(
        (PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8")
    )
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config["rule_files"]]
    for job in config["scrape_configs"]:
        assert job["authorization"]["credentials_file"] == TOKEN_SECRET, job["job_name"]
        job["authorization"] = {**job["authorization"], "credentials_file": str(token_file)}
    return config


def dashboards() -> dict[str, dict[str, Any]]:
    """Every shipped dashboard by file name."""
    found = {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARD_DIR.glob("*.json"))
    }
    assert found, f"no dashboards in {DASHBOARD_DIR}"
    return found


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those folded inside rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def panel_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel."""
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The dashboard's template variables by name."""
    return {v["name"]: v for v in dashboard["templating"]["list"]}


def variable_query(variable: dict[str, Any]) -> str:
    """The query text of a query variable (Grafana stores a string or an object)."""
    query = variable["query"]
    return str(query["query"] if isinstance(query, dict) else query)


def label_values(query: str) -> tuple[str, str]:
    """(series selector, label) of ``label_values(selector, label)``."""
    match = _LABEL_VALUES.match(query.strip())
    assert match, f"not a label_values() query: {query}"
    return match.group(1).strip(), match.group(2)


def alert_rules() -> list[dict[str, Any]]:
    """Every rule of deploy/prometheus/alerts.yml."""
    document = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """The liveness_ metric names an expression reads (label values are ignored)."""
    return set(_LIVENESS_NAME.findall(_QUOTED.sub('""', expr)))


def instant(expr: str, window: str = "30s") -> str:
    """The expression as Prometheus can run it: every variable matches everything."""
    expr = _INTERVALS.sub(window, expr)
    return _VARIABLE.sub(".*", expr)
