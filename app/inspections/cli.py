"""`liveness inspections create|list|show|export`: the API's inspection routes, on the database.

The options are the API's body fields and go through the same schema, so the CLI refuses
what the API refuses, with the same reasons.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from pydantic_core import to_json
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlmodel.ext.asyncio.session import AsyncSession

from app.config import Settings
from app.console import CLI_PRINCIPAL, console, err, load_settings
from app.db import Database, utcnow
from app.errors import Problem
from app.inspections import bulletin, export, service
from app.inspections.schemas import InspectionCreate

__all__ = ["inspections_app"]

inspections_app = typer.Typer(
    help="Take, list, show and export inspections (检查).", no_args_is_help=True
)
T = TypeVar("T")
Many = Annotated[list[str] | None, typer.Option(help="Repeat for several.")]


def _run(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def go() -> T:
        database = Database(settings.database_url)
        try:
            return await work(database)
        finally:
            await database.dispose()

    try:
        return asyncio.run(go())
    except Problem as exc:
        err.print(f"[red]{exc.detail}[/red]", markup=True, highlight=False)
        raise typer.Exit(1 if exc.status == 404 else 2) from None


def _body(raw: dict[str, Any]) -> InspectionCreate:
    try:
        return InspectionCreate.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            err.print(f"invalid {where}: {error['msg']}", style="red", markup=False)
        raise typer.Exit(2) from None


@inspections_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="The inspection's name, e.g. 2026年第四季度检查.")],
    at: Annotated[
        str | None, typer.Option(help="The time point, ISO 8601 with a zone; default now.")
    ] = None,
    region_prefix: Annotated[str | None, typer.Option(help="Region-code prefix.")] = None,
    platform: Many = None,
    department: Many = None,
    level: Many = None,
    category: Many = None,
    ratio: Annotated[float | None, typer.Option(help="Sample this share (0-1].")] = None,
    size: Annotated[int | None, typer.Option(help="Sample this many accounts.")] = None,
    seed: Annotated[int | None, typer.Option(help="The sample's seed; default random.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the list row as JSON.")] = False,
) -> None:
    """Take an inspection: freeze the scope (or a sample of it) as of the time point."""
    raw: dict[str, Any] = {
        "name": name,
        "at": at,
        "scope": {
            "region_prefix": region_prefix,
            "platforms": platform or [],
            "departments": department or [],
            "levels": level or [],
            "categories": category or [],
        },
    }
    if ratio is not None or size is not None or seed is not None:
        raw["sample"] = {"ratio": ratio, "size": size, "seed": seed}
    body = _body(raw)

    async def work(database: Database) -> dict[str, Any]:
        with Progress(
            TextColumn("freezing"), BarColumn(), MofNCompleteColumn(), console=err, transient=True
        ) as progress:
            task = progress.add_task("accounts", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            async with database.write_session() as session:
                taken = await service.take(
                    session,
                    body,
                    CLI_PRINCIPAL,
                    now=utcnow(),
                    seed=secrets.randbelow(2**63),
                    progress=advance,
                )
                return service.row_data(taken.inspection)

    row = _run(load_settings(), work)
    if as_json:
        console.print_json(to_json(row).decode())
        return
    rate = f"{row['pass_rate'] * 100:.2f}%" if row["pass_rate"] is not None else "—"
    console.print(
        f"inspection {row['id']} taken: {row['sampled']} of {row['accounts_in_scope']} accounts, "
        f"{row['checked']} checked, {row['passing']} passing ({rate})"
    )


def _when(value: datetime) -> str:
    return export.china_time(value)


@inspections_app.command("list")
def list_inspections(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the inspections, newest first."""

    async def work(database: Database) -> list[dict[str, Any]]:
        async with database.read_session() as session:
            rows = await service.list_page(session, None, limit=10_000, before_id=None)
            return [service.row_data(r) for r in rows]

    rows = _run(load_settings(), work)
    if as_json:
        console.print_json(to_json(rows).decode())
        return
    table = Table("id", "name", "time point (China)", "scope", "sampled", "checked", "pass rate")
    for row in rows:
        rate = f"{row['pass_rate'] * 100:.2f}%" if row["pass_rate"] is not None else "—"
        scope = export.scope_text(row["scope"])
        table.add_row(
            str(row["id"]), row["name"], _when(row["at"]), scope, str(row["sampled"]),
            str(row["checked"]), rate,
        )  # fmt: skip
    console.print(table)


def _result(inspection_id: int) -> dict[str, Any]:
    async def work(database: Database) -> dict[str, Any]:
        async with database.read_session() as session:
            return await _read(session, inspection_id)

    return _run(load_settings(), work)


async def _read(session: AsyncSession, inspection_id: int) -> dict[str, Any]:
    inspection = await service.get(session, inspection_id, None)
    return await service.result(session, inspection)


@inspections_app.command("show")
def show(
    inspection_id: Annotated[int, typer.Argument(help="The inspection's id (inspections list).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole result as JSON.")
    ] = False,
) -> None:
    """Show an inspection's figures (or, with --json, the whole result as the API gives it)."""
    result = _result(inspection_id)
    if as_json:
        typer.echo(json.dumps(json.loads(to_json(result)), ensure_ascii=False, indent=2))
        return
    console.print(f"{result['id']} {result['name']}, time point {_when(result['at'])} (China)")
    console.print(f"scope: {export.scope_text(result['scope'])}")
    console.print(
        f"{result['accounts_in_scope']} in scope, {result['sampled']} inspected, "
        f"{result['checked']} checked, {result['passing']} passing, "
        f"pass rate {result['pass_rate_percent'] or '—'}"
    )
    table = Table("region", "name", "inspected", "checked", "passing", "pass rate")
    for row in result["groups"]["region"]:
        table.add_row(
            row["key"], row["name"], str(row["total"]), str(row["checked"]),
            str(row["passing"]), row["pass_rate_percent"] or "—",
        )  # fmt: skip
    console.print(table)
    console.print(f"{len(result['problems'])} accounts with prominent problems")


@inspections_app.command("export")
def export_inspection(
    inspection_id: Annotated[int, typer.Argument(help="The inspection's id.")],
    file: Annotated[Path, typer.Argument(dir_okay=False, help="A .xlsx or .docx path.")],
) -> None:
    """Write the workbook (.xlsx) or the bulletin draft (.docx) of an inspection."""
    suffix = file.suffix.lower()
    if suffix not in (".xlsx", ".docx"):
        err.print("[red]the file name must end in .xlsx or .docx[/red]")
        raise typer.Exit(2)
    result = _result(inspection_id)
    data = export.to_xlsx(result) if suffix == ".xlsx" else bulletin.to_docx(result)
    try:
        file.write_bytes(data)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        err.print(f"[red]cannot write {file!s}: {reason}[/red]")
        raise typer.Exit(2) from None
    console.print(f"inspection {inspection_id} written to {file}")
