"""What every `liveness` command shares: its two consoles, the settings, and who it acts as."""

from __future__ import annotations

import typer
from rich.console import Console

from app.auth.schemas import Role
from app.auth.service import Principal
from app.config import Settings, get_settings

__all__ = ["CLI_PRINCIPAL", "console", "err", "load_settings"]

console = Console()
err = Console(stderr=True)
# The CLI runs on the database itself, as an unscoped admin; audit rows name it "cli".
CLI_PRINCIPAL = Principal(key_id=None, name="cli", role=Role.ADMIN, region_prefix=None)


def load_settings() -> Settings:
    """The settings, or exit 2 with the reason when they cannot be read."""
    try:
        return get_settings()
    except ValueError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None
