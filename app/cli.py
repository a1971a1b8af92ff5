"""The `liveness` command: run the service, migrate, manage keys, import and export accounts,
take inspections."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from app import __version__
from app.accounts import service as accounts_service
from app.accounts.importing import IMPORT_CHUNK, SheetImport, merge_reports, sheet_limits
from app.accounts.models import Account
from app.accounts.schemas import ImportReport
from app.accounts.spreadsheet import SheetRow, read_rows, write_csv, write_xlsx
from app.audit.service import record
from app.auth import service as auth_service
from app.auth.schemas import Role
from app.config import Settings
from app.console import CLI_PRINCIPAL, console, err, load_settings
from app.db import Database
from app.egress import EgressGuard
from app.inspections.cli import inspections_app
from app.migrations import upgrade
from app.params import is_region_prefix
from app.sheets import SheetError

app = typer.Typer(
    help="liveness: watches government accounts and flags the dead ones.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
accounts_app = typer.Typer(help="Import and export the account registry.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(accounts_app, name="accounts")
app.add_typer(inspections_app, name="inspections")


def main() -> None:
    """Entry point of the `liveness` console script."""
    app()


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"liveness {__version__}")


@app.command()
def migrate() -> None:
    """Upgrade the database (LIVENESS_DATABASE_URL) to the newest schema."""
    settings = load_settings()
    upgrade(settings.database_url)
    console.print("database is at the newest schema")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Run the API (and, on SQLite, upgrade the database first)."""
    import uvicorn

    from app.main import create_app

    settings = load_settings()
    if settings.is_sqlite and settings.auto_migrate:
        upgrade(settings.database_url)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
    )


async def _create_key(settings: Settings, name: str, role: Role, region: str | None) -> str:
    database = Database(settings.database_url)
    try:
        async with database.write_session() as session:
            row, plain = await auth_service.create_key(
                session, name=name, role=role, region_prefix=region
            )
            record(
                session,
                CLI_PRINCIPAL,
                "key.create",
                f"key:{row.id}",
                {"name": name, "role": role.value, "region_prefix": region},
            )
        return plain
    finally:
        await database.dispose()


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="viewer, operator or admin.")],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")] = "cli",
    region: Annotated[str | None, typer.Option(help="Region-code prefix, e.g. 2201.")] = None,
) -> None:
    """Create a key and print it once; only its hash is stored."""
    if region is not None and not is_region_prefix(region):
        err.print("[red]--region must be 1 to 6 ASCII digits of a region code, e.g. 2201[/red]")
        raise typer.Exit(2)
    plain = asyncio.run(_create_key(load_settings(), name, role, region))
    console.print(plain, soft_wrap=True, highlight=False)


async def _list_keys(settings: Settings) -> list[list[str]]:
    database = Database(settings.database_url)
    try:
        async with database.read_session() as session:
            keys = await auth_service.list_keys(session)
        return [
            [
                str(k.id),
                k.name,
                k.prefix + "…",
                k.role,
                k.region_prefix or "-",
                "revoked" if k.revoked_at else "active",
                k.last_used_at.isoformat() if k.last_used_at else "-",
            ]
            for k in keys
        ]
    finally:
        await database.dispose()


@keys_app.command("list")
def keys_list() -> None:
    """List keys (never the keys themselves)."""
    table = Table("id", "name", "starts with", "role", "region", "state", "last used")
    for row in asyncio.run(_list_keys(load_settings())):
        table.add_row(*row)
    console.print(table)


async def _revoke(settings: Settings, key_id: int) -> bool:
    database = Database(settings.database_url)
    try:
        async with database.write_session() as session:
            key = await auth_service.get_key(session, key_id)
            if key is None:
                return False
            await auth_service.revoke_key(session, key)
            record(session, CLI_PRINCIPAL, "key.revoke", f"key:{key_id}", {"name": key.name})
        return True
    finally:
        await database.dispose()


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="The key's id (keys list).")]) -> None:
    """Revoke a key; it stops working at once."""
    if not asyncio.run(_revoke(load_settings(), key_id)):
        err.print(f"[red]no key with id {key_id}[/red]")
        raise typer.Exit(1)
    console.print(f"key {key_id} revoked")


def _chunks(rows: Iterator[SheetRow], size: int) -> Iterator[list[SheetRow]]:
    while chunk := list(islice(rows, size)):
        yield chunk


async def _import(
    settings: Settings, rows: list[SheetRow], dry_run: bool, file_name: str
) -> ImportReport:
    database = Database(settings.database_url)
    egress = EgressGuard.for_monitors(settings)
    reports = []
    try:
        with Progress(
            TextColumn("importing"), BarColumn(), MofNCompleteColumn(), console=err, transient=True
        ) as progress:
            task = progress.add_task("rows", total=len(rows))
            sheet = SheetImport(CLI_PRINCIPAL, egress=egress, dry_run=dry_run, file_name=file_name)
            for chunk in _chunks(iter(rows), IMPORT_CHUNK):
                async with database.write_session() as session:
                    report = await sheet.chunk(session, chunk)
                reports.append(report)
                progress.advance(task, len(chunk))
    finally:
        await database.dispose()
    return merge_reports(reports, dry_run=dry_run)


@accounts_app.command("import")
def accounts_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Upsert accounts from a CSV or XLSX sheet with Chinese headers; report bad rows. The
    API's upload limits apply (LIVENESS_IMPORT_MAX_*)."""
    settings = load_settings()
    try:
        _header, rows = read_rows(file.read_bytes(), file.name, sheet_limits(settings))
        sheet_rows = list(rows)
    except SheetError as exc:
        err.print(f"{file.name}: {exc}", style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    report = asyncio.run(_import(settings, sheet_rows, dry_run, file.name))
    if as_json:
        console.print_json(report.model_dump_json())
    else:
        verb = "would be" if dry_run else "were"
        console.print(
            f"{report.total} rows: {report.created} {verb} created, {report.updated} "
            f"updated, {report.unchanged} unchanged, {report.failed} rejected"
        )
        if report.errors:
            table = Table("line", "column", "reason", title="rejected rows")
            for error in report.errors[:100]:
                table.add_row(str(error.line), error.column, error.reason)
            err.print(table)
    if report.failed:
        raise typer.Exit(1)


async def _load_all(settings: Settings) -> list[Account]:
    database = Database(settings.database_url)
    try:
        async with database.read_session() as session:
            accounts = [
                a
                async for a in accounts_service.iter_accounts(
                    session, accounts_service.AccountFilters(), scope_prefix=None
                )
            ]
    finally:
        await database.dispose()
    return accounts


@accounts_app.command("export")
def accounts_export(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="A .csv or .xlsx path.")],
) -> None:
    """Write the whole registry to a CSV or XLSX sheet with Chinese headers."""
    if file.suffix.lower() not in (".csv", ".xlsx"):
        err.print("[red]the file name must end in .csv or .xlsx[/red]")
        raise typer.Exit(2)
    accounts = asyncio.run(_load_all(load_settings()))
    try:
        if file.suffix.lower() == ".xlsx":
            file.write_bytes(write_xlsx(accounts))
        else:
            with file.open("w", encoding="utf-8", newline="") as out:
                out.writelines(write_csv(accounts))
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        err.print(f"[red]cannot write {file!s}: {reason}[/red]")
        raise typer.Exit(2) from None
    console.print(f"{len(accounts)} accounts written to {file}")


@app.command()
def check(
    platform: Annotated[
        str,
        typer.Argument(
            help="weibo, wechat, douyin, appstore, huawei, xiaomi, yyb, rss or website."
        ),
    ],
    handle: Annotated[str, typer.Argument(help="The account's ID on the platform.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the observation as JSON.")] = False,
    base_url: Annotated[
        str | None,
        typer.Option(help="Send every platform request to this host (e.g. the simulator)."),
    ] = None,
) -> None:
    """Check one account now, without the database, and show the evidence."""
    from app.checks.pipeline import make_http_client
    from monitors import Observation
    from monitors.report import check_once, render_json, render_text

    settings = load_settings()
    config = settings.monitor_config()
    if base_url:
        config = config.with_base(base_url)

    async def observe() -> Observation:
        async with make_http_client(settings, trusted=[base_url] if base_url else []) as client:
            return await check_once(platform, handle, config, client)

    try:
        observation = asyncio.run(observe())
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        print(render_json(observation))
    else:
        print(render_text(observation))


def _scaled_settings(command: str) -> Settings:
    settings = load_settings()
    if settings.is_sqlite:
        err.print(
            f"[red]liveness {command} needs PostgreSQL (scaled mode); on SQLite, "
            "`liveness serve` runs the checks itself[/red]"
        )
        raise typer.Exit(2)
    return settings


MetricsPort = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=65535,
        help="Serve this process's counters on /metrics at this port (off); "
        "LIVENESS_METRICS_TOKEN guards it as it does the API's.",
    ),
]


@app.command()
def scheduler(metrics_port: MetricsPort = None) -> None:
    """Scaled mode: claim due accounts and queue them for workers (run exactly one)."""
    from app.metrics.process import serve_process_metrics
    from app.scheduling.scaled import serve_scheduler

    settings = _scaled_settings("scheduler")
    serve_process_metrics(metrics_port, settings)
    console.print(
        f"scheduler: claiming up to {settings.claim_batch} due accounts every "
        f"{settings.claim_interval_s:g} s, lease {settings.lease_s} s, queues checks.<platform>"
    )
    asyncio.run(serve_scheduler(settings))


@app.command()
def worker(
    queues: Annotated[
        str | None,
        typer.Option(help="Platforms to serve, e.g. weibo,douyin (default: all)."),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Checks in flight (default LIVENESS_MAX_CONCURRENCY).")
    ] = None,
    metrics_port: MetricsPort = None,
) -> None:
    """Scaled mode: run queued checks of the given platforms (any number, on any machine)."""
    from app.metrics.process import serve_process_metrics
    from app.scheduling.queue import queue_for
    from app.scheduling.scaled import parse_platforms, serve_worker
    from monitors import PLATFORMS

    settings = _scaled_settings("worker")
    try:
        platforms = parse_platforms(queues, PLATFORMS)
    except ValueError as exc:
        err.print(f"[red]--queues: {exc}[/red]")
        raise typer.Exit(2) from None
    slots = concurrency or settings.max_concurrency
    serve_process_metrics(metrics_port, settings)
    console.print(
        f"worker: {slots} checks in flight on queues {', '.join(queue_for(p) for p in platforms)}"
    )
    asyncio.run(serve_worker(settings, platforms, slots))


@app.command()
def simulator(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9000,
    latency_ms: Annotated[float, typer.Option(help="Delay added to every answer.")] = 0,
    population: Annotated[int, typer.Option(help="How many scripted accounts.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the scripted population.")] = 1,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Serve a fake of every supported platform (tests, demo, benchmarks). GET /population
    lists each handle with its scripted truth."""
    from monitors.simulator.server import serve as serve_simulator

    console.print(f"simulator on http://{host}:{port} ({population} accounts, seed {seed})")
    serve_simulator(port=port, latency_ms=latency_ms, population=population, seed=seed, host=host)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="API port.")] = 8000,
    simulator_port: Annotated[int, typer.Option(help="Simulator port.")] = 9000,
    accounts: Annotated[int, typer.Option(help="Size of the sample registry.")] = 300,
    data_dir: Annotated[Path, typer.Option(help="Where the demo database lives.")] = Path(
        "demo-data"
    ),
) -> None:
    """Run the service on SQLite against the bundled simulator with a sample registry."""
    from app import demo as demo_module

    demo_module.run(
        port=port,
        simulator_port=simulator_port,
        size=accounts,
        data_dir=data_dir,
        echo=lambda line: console.print(line, soft_wrap=True, highlight=False, markup=False),
    )


if __name__ == "__main__":
    main()
