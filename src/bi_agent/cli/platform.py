"""`bi-agent up`, `health`, `migrate` and `buckets`: start the platform, check it, prepare its data stores."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from bi_agent import prestart
from bi_agent.cli.output import console
from bi_agent.infra.objects import create_s3_client, ensure_buckets
from bi_agent.infra.services import check_services
from bi_agent.security.users import AdminBootstrap
from bi_agent.settings import load_settings
from bi_agent.supervisor import run_up


def up(
    demo: Annotated[bool, typer.Option("--demo/--no-demo", help="Seed the demo dataset on the first start.")] = True,
) -> None:
    """Start the platform: embedded servers where none is configured, then the APIs, worker and beat."""
    raise typer.Exit(run_up(load_settings(), console, demo=demo))


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


def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision: head, base, or a revision id.")] = "head",
    down: Annotated[bool, typer.Option("--down", help="Downgrade to the revision instead.")] = False,
    admin: Annotated[
        bool,
        typer.Option(
            "--admin",
            help=(
                "Then create the first admin (BI_AGENT_ADMIN_USERNAME, BI_AGENT_ADMIN_PASSWORD) unless it exists;"
                " without a password, one is generated and shown only on a terminal."
            ),
        ),
    ] = False,
) -> None:
    """Apply (or with --down, revert) database migrations."""
    settings = load_settings()
    prestart.migrate(settings, revision, down=down, wait_seconds=10)
    console.print(f"database at revision {revision}")
    if admin and not down:
        # Compose runs this with its output in `docker compose logs`: no password there.
        _report_admin(prestart.create_admin(settings, may_generate=sys.stdout.isatty()))


def _report_admin(bootstrap: AdminBootstrap) -> None:
    if bootstrap.generated_password is not None:
        console.print(
            f"created admin {bootstrap.username} / {bootstrap.generated_password} "
            "(shown this once; only its hash is stored)",
            soft_wrap=True,
        )
    elif bootstrap.created:
        console.print(f"created admin {bootstrap.username} with the password in BI_AGENT_ADMIN_PASSWORD")
    else:
        console.print(f"admin {bootstrap.username} exists")


def buckets() -> None:
    """Create the buckets (MINIO_BUCKET_*) that do not exist yet; existing ones are left as they are."""
    settings = load_settings()
    created = ensure_buckets(create_s3_client(settings), settings.buckets)
    console.print(f"created buckets {', '.join(created)}" if created else "buckets exist")
