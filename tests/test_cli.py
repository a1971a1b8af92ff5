"""The `liveness` command: migrate, keys, import/export, readable errors."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.config import get_settings

runner = CliRunner(env={"COLUMNS": "300", "TERMINAL_WIDTH": "300", "NO_COLOR": "1"})


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("LIVENESS_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "migrate", "keys", "accounts", "version"):
        assert command in result.output
    assert "checkpoints" not in result.output  # summaries keep no checkpoints (issue 17)


def test_keys_lifecycle(sqlite_env: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    created = runner.invoke(
        app, ["keys", "create", "--role", "viewer", "--name", "grafana", "--region", "2201"]
    )
    assert created.exit_code == 0, created.output
    plain = created.output.strip()
    assert plain.startswith("lv_")
    listed = runner.invoke(app, ["keys", "list"])
    assert "grafana" in listed.output and "2201" in listed.output
    assert plain not in listed.output
    assert runner.invoke(app, ["keys", "revoke", "1"]).exit_code == 0
    assert "revoked" in runner.invoke(app, ["keys", "list"]).output
    missing = runner.invoke(app, ["keys", "revoke", "99"])
    assert missing.exit_code == 1 and "no key" in missing.output


def test_bad_role_and_region_are_readable(sqlite_env: Path) -> None:
    runner.invoke(app, ["migrate"])
    bad_role = runner.invoke(app, ["keys", "create", "--role", "root"])
    assert bad_role.exit_code == 2 and "root" in bad_role.output
    bad_region = runner.invoke(app, ["keys", "create", "--role", "viewer", "--region", "22x"])
    assert bad_region.exit_code == 2 and "digits" in bad_region.output


def test_import_then_export_round_trip(sqlite_env: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["migrate"])
    source = tmp_path / "in.csv"
    with source.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["账号名称", "平台", "账号ID", "行政区划代码", "标签"])
        writer.writerow(["长春发布", "微博", "1234567890", "220102", "重点"])
        writer.writerow(["坏行", "微博", "abc", "220102", ""])
    result = runner.invoke(app, ["accounts", "import", str(source)])
    assert result.exit_code == 1  # one row was rejected
    assert "1 were created" in result.output and "1 rejected" in result.output
    assert "账号ID" in result.output

    target = tmp_path / "out.xlsx"
    exported = runner.invoke(app, ["accounts", "export", str(target)])
    assert exported.exit_code == 0 and "1 accounts" in exported.output
    again = runner.invoke(app, ["accounts", "import", str(target), "--json"])
    assert again.exit_code == 0 and '"unchanged": 1' in again.output


def test_import_of_a_broken_file_is_readable(sqlite_env: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["migrate"])
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    result = runner.invoke(app, ["accounts", "import", str(broken)])
    assert result.exit_code == 2 and "XLSX" in result.output
    missing = runner.invoke(app, ["accounts", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_bad_database_url_is_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVENESS_DATABASE_URL", "mysql://x/y")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["migrate"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2 and "LIVENESS_DATABASE_URL" in result.output


def test_check_against_the_simulator() -> None:
    from tests.support import running_simulator

    with running_simulator(300, 1) as (url, sim):
        alive = next(
            a
            for a in sim.state.population.accounts
            if a.platform == "appstore" and a.scenario == "alive"
        )
        text = runner.invoke(app, ["check", "appstore", alive.handle, "--base-url", url])
        # An id the simulated store does not list answers resultCount 0.
        as_json = runner.invoke(
            app, ["check", "appstore", "987654321", "--json", "--base-url", url]
        )
    assert text.exit_code == 0, text.output
    assert "ok (alive)" in text.output and alive.display_name in text.output
    assert as_json.exit_code == 0
    assert '"outcome": "not_found"' in as_json.output and "resultCount" in as_json.output


def test_check_refuses_a_bad_handle_readably() -> None:
    result = runner.invoke(app, ["check", "weibo", "not-a-uid"])
    assert result.exit_code == 2 and "numeric uid" in result.output
    unknown = runner.invoke(app, ["check", "myspace", "x"])
    assert unknown.exit_code == 2 and "unknown platform" in unknown.output


def test_serve_upgrades_a_sqlite_database_first(
    sqlite_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    import uvicorn

    served: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.update(kwargs))
    result = runner.invoke(app, ["serve", "--port", "8765"])
    assert result.exit_code == 0, result.output
    assert served["port"] == 8765
    tables = {
        row[0]
        for row in sqlite3.connect(sqlite_env).execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    }
    assert {"account", "api_key", "audit_log", "alembic_version"} <= tables
