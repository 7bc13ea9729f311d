"""Rollups: materialized views per dataset and time column, by day and by month, over the
union of the dimensions its metrics allow, holding what makes count, sum, min, max and
avg exact. The monthly view answers month, quarter and year queries over whole months
with a thirtieth of the daily view's rows.

Each view has a unique index over (day, dimensions) with NULLS NOT DISTINCT, so it
refreshes CONCURRENTLY: readers never wait. A view answers only while it holds the
dataset's current `data_version`; a stale view is simply not used (the table is).
View and column names are generated (`rollup_<hash>`, `d0`, `m0_sum`), so long
dataset or column names never collide once PostgreSQL cuts identifiers at 63 bytes.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import sql
from sqlalchemy import Connection, Engine, text

from bi_agent.catalog import datasets
from bi_agent.catalog.columns import ColumnSpec, DataType
from bi_agent.infra.db import psycopg_connection

GRAINS = ("day", "month")
# Aggregates kept per measure column, by its type; booleans have no min or max in PostgreSQL, and
# of text only the count is kept: min and max of text are no metrics (one record's value, maybe
# PHI), so a view would only store values it never serves (migration 0017 rebuilt such views).
PARTIALS: dict[DataType, tuple[str, ...]] = {
    "bigint": ("sum", "count", "min", "max"),
    "double precision": ("sum", "count", "min", "max"),
    "numeric": ("sum", "count", "min", "max"),
    "date": ("count", "min", "max"),
    "timestamptz": ("count", "min", "max"),
    "text": ("count",),
    "boolean": ("count",),
}


@dataclass(frozen=True)
class Rollup:
    view_name: str
    dataset: str
    dataset_id: uuid.UUID
    time_column: str
    grain: str
    dimensions: tuple[str, ...]
    measures: tuple[str, ...]
    timezone: str
    data_version: int | None
    refreshed_at: datetime | None

    def dimension_column(self, name: str) -> str:
        return f"d{self.dimensions.index(name)}"

    def measure_column(self, name: str, partial: str) -> str:
        return f"m{self.measures.index(name)}_{partial}"


def view_name(dataset_id: uuid.UUID, time_column: str, grain: str) -> str:
    return "rollup_" + hashlib.sha256(f"{dataset_id}:{time_column}:{grain}".encode()).hexdigest()[:24]


def _desired(connection: Connection, dataset: str) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Per time column: the dimensions and measure columns the dataset's metrics need."""
    rows = connection.execute(
        text(
            "SELECT m.aggregation, m.column_name, m.time_column, m.dimensions, m.filters FROM bi.metrics m "
            "JOIN bi.datasets d ON d.id = m.dataset_id WHERE d.name = :dataset"
        ),
        {"dataset": dataset},
    ).all()
    plan: dict[str, tuple[set[str], set[str]]] = {}
    for row in rows:
        if row.aggregation == "count_distinct":
            continue  # a distinct count cannot be added up from days
        dimensions, measures = plan.setdefault(row.time_column, (set(), set()))
        dimensions.update(row.dimensions)
        # A metric's own filters must be answerable from the view too.
        dimensions.update(item["dimension"] for item in row.filters)
        if row.column_name is not None:
            measures.add(row.column_name)
    return {
        time_column: (tuple(sorted(dimensions - {time_column})), tuple(sorted(measures)))
        for time_column, (dimensions, measures) in plan.items()
    }


def sync(connection: Connection, dataset: str, timezone: str, *, rebuild: bool = False) -> None:
    """Make the dataset's views match its metrics: create, reshape or drop them.

    A new or reshaped view starts empty and unused until the next refresh fills it;
    `rebuild` recreates every view (after a replace import dropped them with the table).
    """
    summary = datasets.get_dataset(connection, dataset)
    columns = {column.name: column for column in datasets.get_columns(connection, dataset)}
    existing = {(rollup.time_column, rollup.grain): rollup for rollup in rollups_of(connection, dataset)}
    desired = _desired(connection, dataset)
    raw = psycopg_connection(connection)
    for (time_column, _), rollup in existing.items():
        if rebuild or rollup.timezone != timezone or desired.get(time_column) != (rollup.dimensions, rollup.measures):
            raw.execute(
                sql.SQL("DROP MATERIALIZED VIEW IF EXISTS {}.{}").format(
                    sql.Identifier("analytics"), sql.Identifier(rollup.view_name)
                )
            )
            connection.execute(text("DELETE FROM bi.rollups WHERE view_name = :view"), {"view": rollup.view_name})
    for (time_column, grain), (dimensions, measures) in (
        ((time_column, grain), shape) for time_column, shape in desired.items() for grain in GRAINS
    ):
        current = existing.get((time_column, grain))
        unchanged = current is not None and (current.dimensions, current.measures, current.timezone) == (
            dimensions,
            measures,
            timezone,
        )
        if unchanged and not rebuild:
            continue
        name = view_name(summary.id, time_column, grain)
        _create_view(connection, dataset, name, columns, time_column, grain, dimensions, measures, timezone)
        connection.execute(
            text(
                "INSERT INTO bi.rollups (view_name, dataset_id, time_column, grain, dimensions, measures, timezone) "
                "VALUES (:view, :dataset_id, :time, :grain, :dimensions, :measures, :timezone)"
            ),
            {
                "view": name,
                "dataset_id": summary.id,
                "time": time_column,
                "grain": grain,
                "dimensions": list(dimensions),
                "measures": list(measures),
                "timezone": timezone,
            },
        )


def _bucket_expression(column: ColumnSpec, grain: str, timezone: str) -> sql.Composable:
    if column.data_type == "date":
        day: sql.Composable = sql.Identifier(column.name)
    else:
        day = sql.SQL("({} AT TIME ZONE {})::date").format(sql.Identifier(column.name), sql.Literal(timezone))
    if grain == "day":
        return day
    return sql.SQL("date_trunc('month', {}::timestamp)::date").format(day)


def _create_view(
    connection: Connection,
    dataset: str,
    name: str,
    columns: dict[str, ColumnSpec],
    time_column: str,
    grain: str,
    dimensions: tuple[str, ...],
    measures: tuple[str, ...],
    timezone: str,
) -> None:
    selected: list[sql.Composable] = [
        sql.SQL("{} AS day").format(_bucket_expression(columns[time_column], grain, timezone))
    ]
    for index, dimension in enumerate(dimensions):
        selected.append(sql.SQL("{} AS {}").format(sql.Identifier(dimension), sql.Identifier(f"d{index}")))
    selected.append(sql.SQL("count(*) AS n_rows"))
    for index, measure in enumerate(measures):
        for partial in PARTIALS[columns[measure].data_type]:
            selected.append(
                sql.SQL("{}({}) AS {}").format(
                    sql.SQL(partial), sql.Identifier(measure), sql.Identifier(f"m{index}_{partial}")
                )
            )
    group = sql.SQL(", ").join(sql.Literal(position) for position in range(1, len(dimensions) + 2))
    raw = psycopg_connection(connection)
    raw.execute(
        sql.SQL("CREATE MATERIALIZED VIEW {}.{} AS SELECT {} FROM {}.{} GROUP BY {} WITH NO DATA").format(
            sql.Identifier("analytics"),
            sql.Identifier(name),
            sql.SQL(", ").join(selected),
            sql.Identifier("analytics"),
            sql.Identifier(dataset),
            group,
        )
    )
    keys = [sql.Identifier("day"), *(sql.Identifier(f"d{index}") for index in range(len(dimensions)))]
    raw.execute(
        sql.SQL("CREATE UNIQUE INDEX {} ON {}.{} ({}) NULLS NOT DISTINCT").format(
            sql.Identifier(f"{name}_key"), sql.Identifier("analytics"), sql.Identifier(name), sql.SQL(", ").join(keys)
        )
    )


def rollups_of(connection: Connection, dataset: str | None = None) -> list[Rollup]:
    rows = connection.execute(
        text(
            "SELECT r.view_name, d.name AS dataset, r.dataset_id, r.time_column, r.grain, r.dimensions, r.measures, "
            "r.timezone, r.data_version, r.refreshed_at FROM bi.rollups r JOIN bi.datasets d ON d.id = r.dataset_id "
            "WHERE CAST(:dataset AS text) IS NULL OR d.name = :dataset ORDER BY d.name, r.time_column, r.grain"
        ),
        {"dataset": dataset},
    ).all()
    return [
        Rollup(
            row.view_name,
            row.dataset,
            row.dataset_id,
            row.time_column,
            row.grain,
            tuple(row.dimensions),
            tuple(row.measures),
            row.timezone,
            row.data_version,
            row.refreshed_at,
        )
        for row in rows
    ]


def refresh_stale(engine: Engine, dataset: str | None = None) -> list[dict[str, Any]]:
    """Refresh the stale views (of one dataset, or all) in one transaction. Returns what was refreshed.

    REPEATABLE READ: the data_version recorded is the one of the rows the view was filled
    from, even if an import commits meanwhile (the view is then stale again, and says so).
    """
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
        return _refresh(connection, dataset)


def _refresh(connection: Connection, dataset: str | None) -> list[dict[str, Any]]:
    refreshed = []
    raw = psycopg_connection(connection)
    for rollup in rollups_of(connection, dataset):
        current = datasets.get_dataset(connection, rollup.dataset).data_version
        if rollup.data_version == current:
            continue
        # CONCURRENTLY needs a populated view; the first fill of an empty one cannot use it.
        concurrently = sql.SQL("CONCURRENTLY ") if rollup.data_version is not None else sql.SQL("")
        raw.execute(
            sql.SQL("REFRESH MATERIALIZED VIEW {}{}.{}").format(
                concurrently, sql.Identifier("analytics"), sql.Identifier(rollup.view_name)
            )
        )
        connection.execute(
            text("UPDATE bi.rollups SET data_version = :version, refreshed_at = :now WHERE view_name = :view"),
            {"version": current, "now": datetime.now(UTC), "view": rollup.view_name},
        )
        # A rebuilt view has no statistics until autovacuum comes by; without them the planner
        # misjudges its size by a hundred times and picks a slower plan.
        raw.execute(sql.SQL("ANALYZE {}.{}").format(sql.Identifier("analytics"), sql.Identifier(rollup.view_name)))
        refreshed.append(
            {
                "dataset": rollup.dataset,
                "time_column": rollup.time_column,
                "grain": rollup.grain,
                "data_version": current,
            }
        )
    return refreshed
