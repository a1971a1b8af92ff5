"""`liveness inspections create|list|show|export` on a SQLite file with the fixed history."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from typer.testing import CliRunner

from app.cli import app
from app.config import get_settings
from app.db import Database
from tests.inspections.history import T, seed_history

runner = CliRunner(env={"COLUMNS": "300", "TERMINAL_WIDTH": "300", "NO_COLOR": "1"})


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("LIVENESS_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    assert runner.invoke(app, ["migrate"]).exit_code == 0

    async def seed() -> None:
        database = Database(get_settings().database_url)
        try:
            await seed_history(database)
        finally:
            await database.dispose()

    asyncio.run(seed())
    yield tmp_path
    get_settings.cache_clear()


def test_create_list_show_export(seeded: Path) -> None:
    made = runner.invoke(
        app, ["inspections", "create", "--name", "二季度", "--at", T.isoformat(), "--json"]
    )
    assert made.exit_code == 0, made.output
    row = json.loads(made.stdout)
    assert (row["id"], row["sampled"], row["checked"], row["passing"]) == (1, 8, 7, 5)

    sampled = runner.invoke(
        app,
        ["inspections", "create", "--name", "抽查", "--region-prefix", "22", "--platform",
         "weibo", "--platform", "wechat", "--ratio", "0.5", "--seed", "3"],
    )  # fmt: skip
    assert sampled.exit_code == 0, sampled.output
    assert "inspection 2 taken" in sampled.stdout

    listed = runner.invoke(app, ["inspections", "list"])
    assert listed.exit_code == 0 and "二季度" in listed.stdout and "抽查" in listed.stdout
    assert "71.43%" in listed.stdout

    shown = runner.invoke(app, ["inspections", "show", "1"])
    assert shown.exit_code == 0, shown.output
    assert "pass rate 71.43%" in shown.stdout and "220102" in shown.stdout
    whole = json.loads(runner.invoke(app, ["inspections", "show", "2", "--json"]).stdout)
    assert whole["scope"]["platforms"] == ["wechat", "weibo"]
    assert whole["sample"]["seed"] == 3

    assert runner.invoke(app, ["inspections", "export", "1", "out.xlsx"]).exit_code == 0
    assert "总体情况" in load_workbook(seeded / "out.xlsx", read_only=True).sheetnames
    assert runner.invoke(app, ["inspections", "export", "1", "out.docx"]).exit_code == 0
    paragraphs = [p.text for p in Document(str(seeded / "out.docx")).paragraphs]
    assert any("总体合格率为71.43%" in p for p in paragraphs)


def test_readable_errors(seeded: Path) -> None:
    bad = runner.invoke(app, ["inspections", "create", "--name", "x", "--ratio", "2"])
    assert bad.exit_code == 2 and "sample.ratio" in bad.output
    sample = ["--ratio", "0.5", "--size", "2"]
    both = runner.invoke(app, ["inspections", "create", "--name", "x", *sample])
    assert both.exit_code == 2 and "exactly one" in both.output
    region = runner.invoke(app, ["inspections", "create", "--name", "x", "--region-prefix", "2x"])
    assert region.exit_code == 2 and "scope.region_prefix" in region.output
    missing = runner.invoke(app, ["inspections", "show", "9"])
    assert missing.exit_code == 1 and "no inspection with id 9" in missing.output
    suffix = runner.invoke(app, ["inspections", "export", "1", "out.pdf"])
    assert suffix.exit_code == 2 and ".xlsx or .docx" in suffix.output
    assert "Traceback" not in bad.output + both.output + missing.output
