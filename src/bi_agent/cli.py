"""The `bi-agent` command: start the platform, check it, migrate it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bi_agent.errors import BIAgentError
from bi_agent.infra import migrations
from bi_agent.infra.db import create_database_engine, wait_for_database
from bi_agent.infra.services import check_services
from bi_agent.settings import load_settings
from bi_agent.supervisor import run_up

app = typer.Typer(
    name="bi-agent",
    help="BI-Agent: analytics and ML platform. `bi-agent up` starts everything on this machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
error_console = Console(stderr=True)


@app.command()
def up() -> None:
    """Start the platform: embedded servers where none is configured, then the APIs, worker and beat."""
    raise typer.Exit(run_up(load_settings(), console))


@app.command()
def health() -> None:
    """Check every service and print a table; exit code 1 when any is down."""
    statuses = check_services(load_settings())
    table = Table(title="BI-Agent health")
    table.add_column("service")
    table.add_column("status")
    table.add_column("latency", justify="right")
    table.add_column("detail", overflow="fold")
    for status in statuses:
        table.add_row(
            status.name,
            Text("up", style="bold green") if status.ok else Text("down", style="bold red"),
            f"{status.latency_ms:.1f} ms",
            status.detail,
        )
    console.print(table)
    raise typer.Exit(0 if all(status.ok for status in statuses) else 1)


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision: head, base, or a revision id.")] = "head",
    down: Annotated[bool, typer.Option("--down", help="Downgrade to the revision instead.")] = False,
) -> None:
    """Apply (or with --down, revert) database migrations."""
    settings = load_settings()
    engine = create_database_engine(settings)
    try:
        wait_for_database(engine, settings, timeout=10)
        if down:
            migrations.downgrade(engine, revision)
        else:
            migrations.upgrade(engine, revision)
    finally:
        engine.dispose()
    console.print(f"database at revision {revision}")


def main() -> None:
    try:
        app()
    except BIAgentError as error:
        # One line naming the setting or server at fault, never a traceback.
        error_console.print(Text("error: ", style="bold red") + Text(str(error)), soft_wrap=True)
        raise SystemExit(1) from None
