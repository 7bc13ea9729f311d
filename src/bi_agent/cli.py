"""The `bi-agent` command: start the platform, check it, migrate it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from bi_agent.catalog import queries, rollups
from bi_agent.catalog.files import OnError
from bi_agent.catalog.imports import import_local_file
from bi_agent.catalog.query_cache import QueryCache
from bi_agent.catalog.query_spec import Filter, QuerySpec
from bi_agent.errors import BIAgentError
from bi_agent.infra import migrations
from bi_agent.infra.connections import Connections
from bi_agent.infra.db import create_database_engine, wait_for_database
from bi_agent.infra.objects import ensure_buckets
from bi_agent.infra.services import check_services
from bi_agent.settings import describe_validation_error, load_settings
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
def up(
    demo: Annotated[bool, typer.Option("--demo/--no-demo", help="Seed the demo dataset on the first start.")] = True,
) -> None:
    """Start the platform: embedded servers where none is configured, then the APIs, worker and beat."""
    raise typer.Exit(run_up(load_settings(), console, demo=demo))


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


@app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(help="CSV, Parquet or JSON Lines file; .gz accepted.", exists=True, dir_okay=False)
    ],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset name: a plain identifier.")],
    mode: Annotated[str, typer.Option(help="append or replace.")] = "append",
    on_error: Annotated[str, typer.Option("--on-error", help="fail on a bad row, or skip and count it.")] = "fail",
) -> None:
    """Import a file into a dataset, with a progress bar of bytes and rows."""
    if mode not in ("append", "replace"):
        raise typer.BadParameter("use append or replace", param_hint="--mode")
    if on_error not in ("fail", "skip"):
        raise typer.BadParameter("use fail or skip", param_hint="--on-error")
    settings = load_settings()
    connections = Connections.open(settings)
    try:
        ensure_buckets(connections.s3, settings.buckets)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            tasks: dict[str, TaskID] = {}

            def report(stage: str, done: int, total: int) -> None:
                label = IMPORT_STAGES.get(stage)
                if label is None:
                    return
                if stage not in tasks:
                    tasks[stage] = bar.add_task(label, total=total or 1, detail="")
                unit = "MB" if stage == "hash" else "rows"
                amount = f"{done / 1e6:,.1f} / {total / 1e6:,.1f} MB" if unit == "MB" else f"{done:,} / {total:,} rows"
                bar.update(tasks[stage], completed=done, total=total or 1, detail=amount)

            outcome = import_local_file(
                connections.engine,
                connections.s3,
                settings.minio_bucket_datasets,
                file,
                dataset,
                "append" if mode == "append" else "replace",
                on_error=OnError(on_error),
                max_field_bytes=settings.import_max_field_bytes,
                timezone=settings.reporting_timezone,
                detect_phi=settings.hipaa_mode,
                progress=report,
            )
        if not outcome.duplicate:
            rollups.refresh_stale(connections.engine, dataset)
    finally:
        connections.close()
    if outcome.duplicate:
        console.print(
            f"{file.name} was imported into {dataset} before; nothing added (data version {outcome.data_version})"
        )
    else:
        skipped = f", {outcome.rows_skipped:,} bad rows skipped" if outcome.rows_skipped else ""
        console.print(
            f"imported {outcome.rows_imported:,} rows into {dataset}{skipped} (data version {outcome.data_version})"
        )


IMPORT_STAGES = {"hash": "reading file", "copy": "copying rows"}

FILTER_PATTERN = re.compile(r"^([a-z][a-z0-9_]*)\s*(!=|>=|<=|=|>|<|~)\s*(.*)$")
FILTER_OPS = {"=": "eq", "!=": "ne", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "~": "contains"}


def _filter_value(text: str) -> str | int | float | bool:
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_filter(expression: str) -> Filter:
    """`region=north`, `region!=north`, `units>=3`, `channel=web,store` (in), `name~ann` (contains)."""
    match = FILTER_PATTERN.match(expression.strip())
    if match is None:
        raise typer.BadParameter(f"{expression!r}: write dimension, operator (= != > >= < <= ~) and value")
    dimension, operator, raw = match.groups()
    if operator in ("=", "!=") and "," in raw:
        values = [_filter_value(part.strip()) for part in raw.split(",")]
        return Filter(dimension=dimension, op="in" if operator == "=" else "not_in", value=values)
    return Filter(dimension=dimension, op=FILTER_OPS[operator], value=_filter_value(raw))


@app.command()
def query(
    metric: Annotated[list[str], typer.Argument(help="One or more metrics of one dataset.")],
    start: Annotated[str, typer.Option(help="First day, included (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option(help="Day after the last, excluded (YYYY-MM-DD).")],
    grain: Annotated[str, typer.Option(help="day, week, month, quarter or year.")] = "month",
    group_by: Annotated[list[str] | None, typer.Option("--group-by", "-g", help="A dimension; repeatable.")] = None,
    where: Annotated[list[str] | None, typer.Option("--where", "-w", help="A filter such as region=north.")] = None,
    compare: Annotated[bool, typer.Option(help="Add the previous period's values and the change.")] = False,
) -> None:
    """Run a query and print the result as a table, with where it came from."""
    try:
        spec = QuerySpec.model_validate(
            {
                "metrics": metric,
                "start": start,
                "end": end,
                "grain": grain,
                "group_by": group_by or [],
                "filters": [parse_filter(item) for item in where or []],
                "compare": "previous_period" if compare else None,
            }
        )
    except ValidationError as error:
        raise typer.BadParameter(describe_validation_error(error)) from None
    settings = load_settings()
    connections = Connections.open(settings)
    try:
        with connections.engine.connect() as connection:
            # The CLI runs on the server with its operator's full view: its own cache scope.
            result, cached = queries.answer(
                connection,
                QueryCache(connections.redis),
                spec,
                settings.reporting_timezone,
                "cli:operator",
                phi_allowed=True,
            )
    finally:
        connections.close()
    table = Table(title=f"{', '.join(metric)} by {grain}", caption=_query_caption(result, cached))
    for column in result["columns"]:
        table.add_column(column, justify="left" if column in ("period", *(group_by or [])) else "right")
    for row in result["rows"]:
        table.add_row(
            *("" if value is None else f"{value:,.2f}" if isinstance(value, float) else str(value) for value in row)
        )
    console.print(table)


def _query_caption(result: dict[str, object], cached: bool) -> str:
    origin = "cache" if cached else str(result["source"])
    return f"{len(result['rows'])} rows from the {origin}, data version {result['data_version']}"  # type: ignore[arg-type]


def main() -> None:
    try:
        app()
    except BIAgentError as error:
        # One line naming the setting or server at fault, never a traceback.
        error_console.print(Text("error: ", style="bold red") + Text(str(error)), soft_wrap=True)
        raise SystemExit(1) from None
