"""`bi-agent audit`: check the audit log's hash chain, list its records."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from bi_agent.cli.output import console, error_console
from bi_agent.infra.db import create_database_engine, wait_for_database
from bi_agent.security import audit
from bi_agent.settings import load_settings

audit_app = typer.Typer(
    name="audit", help="The audit log: check its hash chain, list its records.", no_args_is_help=True
)


def _parse_anchor(value: str | None) -> audit.ChainHead | None:
    if value is None:
        return None
    match = re.fullmatch(r"(\d+):([0-9a-f]{64})", value.strip())
    if match is None:
        raise typer.BadParameter("write the record number and its hash as printed: 1234:<64 hex digits>")
    return audit.ChainHead(last_seq=int(match.group(1)), last_hash=match.group(2))


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[
        str | None,
        typer.Option(help="SEQ:HASH printed by an earlier run and kept elsewhere; that record must still have it."),
    ] = None,
) -> None:
    """Recompute the audit log's hash chain; exit code 1 naming the first broken record."""
    anchored = _parse_anchor(anchor)
    settings = load_settings()
    engine = create_database_engine(settings)
    try:
        wait_for_database(engine, settings, timeout=10)
        with engine.connect() as connection:
            head = audit.chain_head(connection)
            broken = audit.verify(connection, anchored)
    finally:
        engine.dispose()
    if broken is not None:
        where = f"record {broken.seq}"
        if broken.record_id is not None and broken.occurred_at is not None:
            where += f" (id {broken.record_id}, {broken.occurred_at.strftime(audit.TIME_FORMAT)})"
        error_console.print(
            Text("audit chain broken ", style="bold red") + Text(f"at {where}: {broken.reason}"), soft_wrap=True
        )
        raise typer.Exit(1)
    # The head hash, kept outside the database, lets a later run tell a rewritten chain.
    console.print(
        f"audit chain intact: {head.last_seq} records; anchor for later runs: {head.last_seq}:{head.last_hash}",
        soft_wrap=True,
    )


@audit_app.command("list")
def audit_list(
    user: Annotated[str | None, typer.Option(help="A username or a user id.")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. auth.login, user.roles, query.")] = None,
    dataset: Annotated[str | None, typer.Option(help="A dataset name.")] = None,
    outcome: Annotated[audit.Outcome | None, typer.Option(help="success, failure or denied.")] = None,
    since: Annotated[datetime | None, typer.Option(help="From this time on (UTC if no zone).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Most records shown, newest first.")] = 50,
) -> None:
    """Print the newest audit records matching the filters."""
    settings = load_settings()
    engine = create_database_engine(settings)
    filters = audit.AuditFilter(user=user, action=action, dataset=dataset, outcome=outcome, since=since)
    try:
        with engine.connect() as connection:
            page = audit.list_records(connection, filters, limit=limit, offset=0)
    finally:
        engine.dispose()
    table = Table(title="Audit log", caption=f"{len(page.items)} of {page.total} records")
    for column in ("seq", "time (UTC)", "user", "action", "outcome", "resource", "dataset", "PHI", "client"):
        table.add_column(column, overflow="fold")
    for entry in page.items:
        table.add_row(
            str(entry.seq),
            entry.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            entry.username or "",
            entry.action,
            entry.outcome,
            entry.resource or "",
            entry.dataset or "",
            "yes" if entry.phi else "",
            entry.client_address or "",
        )
    console.print(table)
