"""`bi-agent import` and `bi-agent query`: load a file into a dataset, and ask it a question."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from bi_agent.catalog import queries, rollups
from bi_agent.catalog.files import OnError
from bi_agent.catalog.imports import import_local_file
from bi_agent.catalog.queries import QueryResult
from bi_agent.catalog.query_cache import QueryCache
from bi_agent.catalog.query_spec import Filter, QuerySpec
from bi_agent.cli.output import console
from bi_agent.infra.connections import Connections
from bi_agent.infra.objects import ensure_buckets
from bi_agent.security.read_scope import ReadScope
from bi_agent.settings import describe_validation_error, load_settings


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
                max_uncompressed_bytes=settings.import_max_uncompressed_mb << 20,
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


def filter_value(text: str) -> str | int | float | bool:
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
        values = [filter_value(part.strip()) for part in raw.split(",")]
        return Filter(dimension=dimension, op="in" if operator == "=" else "not_in", value=values)
    return Filter(dimension=dimension, op=FILTER_OPS[operator], value=filter_value(raw))


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
            # The CLI runs on the server with its operator's full view.
            answer = queries.answer(
                connection,
                QueryCache(connections.redis, settings.cache_signing_key()),
                spec,
                settings.reporting_timezone,
                ReadScope.operator(),
            )
    finally:
        connections.close()
    result = answer.result
    table = Table(title=f"{', '.join(metric)} by {grain}", caption=_query_caption(result))
    for column in result.columns:
        table.add_column(column, justify="left" if column in ("period", *(group_by or [])) else "right")
    for row in result.rows:
        table.add_row(
            *("" if value is None else f"{value:,.2f}" if isinstance(value, float) else str(value) for value in row)
        )
    console.print(table)


def _query_caption(result: QueryResult) -> str:
    origin = "cache" if result.cached else result.source
    return f"{len(result.rows)} rows from the {origin}, data version {result.data_version}"
