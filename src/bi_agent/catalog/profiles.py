"""Dataset profiles: what each column holds, computed in PostgreSQL and stored per data_version.

Per column: nulls, distinct values, min and max, and a histogram: ten equal-width bins
for numbers, the ten most frequent values for text and booleans, counts per month for dates.
A PHI column, whatever its type, has counts only (nulls and distinct, an empty histogram): its
values must not leave the table. That holds by the column's flag when the profile is computed,
and again by its flag when the profile is read, so a column flagged later is hidden too.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine, text

from bi_agent.catalog import datasets
from bi_agent.catalog.columns import NUMBER_TYPES, ColumnSpec
from bi_agent.catalog.values import json_value
from bi_agent.errors import NotFoundError
from bi_agent.infra.db import psycopg_connection

BINS = 10
TOP_VALUES = 10


def _scalar_stats(cursor: Any, table: sql.Composable, column: ColumnSpec) -> tuple[dict[str, Any], Any, Any]:
    """Nulls, distinct values, and min and max (shown unless the column is PHI; used for bins)."""
    name = sql.Identifier(column.name)
    ordered = column.data_type != "boolean" and not column.phi
    bounds = sql.SQL(", min({0}), max({0})").format(name) if ordered else sql.SQL(", NULL, NULL")
    cursor.execute(
        sql.SQL("SELECT count(*) FILTER (WHERE {0} IS NULL), count(DISTINCT {0}){1} FROM {2}").format(
            name, bounds, table
        )
    )
    nulls, distinct, low, high = cursor.fetchone()
    stats: dict[str, Any] = {"nulls": nulls, "distinct": distinct}
    if not column.phi:
        stats["min"] = json_value(low)
        stats["max"] = json_value(high)
    return stats, low, high


def _histogram(cursor: Any, table: sql.Composable, column: ColumnSpec, low: Any, high: Any) -> list[dict[str, Any]]:
    if column.phi:
        return []
    name = sql.Identifier(column.name)
    if column.data_type in NUMBER_TYPES:
        if low is None or high is None:
            return []
        if low == high:
            cursor.execute(sql.SQL("SELECT count({0}) FROM {1}").format(name, table))
            return [{"from": json_value(low), "to": json_value(high), "count": cursor.fetchone()[0]}]
        cursor.execute(
            sql.SQL(
                "SELECT least(width_bucket({0}::float8, %s, %s, %s), %s) AS bin, count(*) FROM {1} "
                "WHERE {0} IS NOT NULL GROUP BY 1 ORDER BY 1"
            ).format(name, table),
            (float(low), float(high), BINS, BINS),
        )
        width = (float(high) - float(low)) / BINS
        return [
            {"from": float(low) + (bin_ - 1) * width, "to": float(low) + bin_ * width, "count": count}
            for bin_, count in cursor.fetchall()
        ]
    if column.data_type in ("date", "timestamptz"):
        cursor.execute(
            sql.SQL(
                "SELECT date_trunc('month', {0}::timestamp)::date, count(*) FROM {1} WHERE {0} IS NOT NULL "
                "GROUP BY 1 ORDER BY 1"
            ).format(name, table)
        )
        return [{"month": month.isoformat(), "count": count} for month, count in cursor.fetchall()]
    cursor.execute(
        sql.SQL("SELECT {0}, count(*) FROM {1} WHERE {0} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s").format(
            name, table
        ),
        (TOP_VALUES,),
    )
    return [{"value": json_value(value), "count": count} for value, count in cursor.fetchall()]


def compute_profile(engine: Engine, dataset: str) -> dict[str, Any]:
    """Profile every column of the dataset as it is now, store it, and return it."""
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
        summary = datasets.get_dataset(connection, dataset)
        columns = datasets.get_columns(connection, dataset)
        raw = psycopg_connection(connection)
        table = sql.SQL("{}.{}").format(sql.Identifier("analytics"), sql.Identifier(dataset))
        profiled = []
        with raw.cursor() as cursor:
            row_count = summary.row_count
            for column in columns:
                stats, low, high = _scalar_stats(cursor, table, column)
                profiled.append(
                    {
                        "name": column.name,
                        "type": column.data_type,
                        "role": column.role,
                        "phi": column.phi,
                        **stats,
                        "histogram": _histogram(cursor, table, column, low, high),
                    }
                )
        profile = {
            "dataset": dataset,
            "data_version": summary.data_version,
            "row_count": row_count,
            "columns": profiled,
        }
        connection.execute(
            text(
                "INSERT INTO bi.dataset_profiles (dataset_id, data_version, row_count, columns) "
                "VALUES (:id, :version, :rows, CAST(:columns AS jsonb)) ON CONFLICT (dataset_id) DO UPDATE SET "
                "data_version = :version, row_count = :rows, columns = CAST(:columns AS jsonb), computed_at = now()"
            ),
            {"id": summary.id, "version": summary.data_version, "rows": row_count, "columns": json.dumps(profiled)},
        )
    return profile


def _counts_only(column: dict[str, Any], phi: bool) -> dict[str, Any]:
    """A PHI column's profile: what it is and its counts, none of its values."""
    kept: dict[str, Any] = {key: column[key] for key in ("name", "type", "role", "nulls", "distinct") if key in column}
    return {**kept, "phi": phi, "histogram": []}


class RangeCount(BaseModel):
    """A number column's bin: values from `from` up to `to`."""

    model_config = ConfigDict(populate_by_name=True)

    start: float | int | str | None = Field(alias="from")
    to: float | int | str | None
    count: int


class MonthCount(BaseModel):
    """A date or time column's month."""

    month: str = Field(description="The month's first day, an ISO date")
    count: int


class ValueCount(BaseModel):
    """One of the most frequent values of another column."""

    value: Any
    count: int


class ColumnProfile(BaseModel):
    name: str
    type: str
    role: str
    phi: bool
    nulls: int
    distinct: int
    min: Any = Field(default=None, description="Left out for a PHI column")
    max: Any = Field(default=None, description="Left out for a PHI column")
    histogram: list[RangeCount | MonthCount | ValueCount] = Field(
        description=f"{BINS} bins of numbers, months of dates, or the {TOP_VALUES} most frequent values; "
        "empty for a PHI column"
    )


class Profile(BaseModel):
    dataset: str
    data_version: int = Field(description="The dataset's version the profile is of")
    stale: bool = Field(description="Newer data has arrived since")
    row_count: int
    columns: list[ColumnProfile]
    computed_at: datetime


def stored_profile(connection: Connection, dataset: str) -> Profile:
    """The stored profile, each column that is PHI now (or was when profiled) cut to its counts."""
    summary = datasets.get_dataset(connection, dataset)
    phi_now = {column.name: column.phi for column in datasets.get_columns(connection, dataset)}
    row = connection.execute(
        text("SELECT data_version, row_count, columns, computed_at FROM bi.dataset_profiles WHERE dataset_id = :id"),
        {"id": summary.id},
    ).first()
    if row is None:
        raise NotFoundError(
            f"dataset {dataset} has no profile yet; start one with POST /api/v1/jobs "
            '{"task": "process_data", "args": {"dataset": "...", "pipeline": "profile"}}'
        )
    return Profile(
        dataset=dataset,
        data_version=row.data_version,
        stale=row.data_version != summary.data_version,
        row_count=row.row_count,
        columns=[
            _counts_only(column, phi_now.get(column["name"], True))
            if phi_now.get(column["name"], False) or column.get("phi")
            else column
            for column in row.columns
        ],
        computed_at=row.computed_at,
    )
