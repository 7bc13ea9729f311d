"""Cleaning a dataset in place, entirely in PostgreSQL: text trimmed, exact duplicate rows
dropped, and text columns that hold only numbers or dates given that type.

The cleaned rows are written to a staging table that is swapped in under the dataset's
lock, as a replace import does: one transaction, a new data_version, the rollups built
again. Cleaning is idempotent: a second run finds nothing to change, and a clean that
would change nothing leaves the table and its data_version as they are.

Numbers follow the rules an import's do (number_text.py): a number written with a leading
zero (a ZIP code, an MRN) stays text, since as a number it would lose its zeros, and
money with at most four decimals becomes `numeric`. Only ISO-8601 dates and timestamps
become dates (the server's DateStyle never decides what 01/02/2024 means).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine, text

from bi_agent.catalog import datasets
from bi_agent.catalog.columns import ColumnSpec, DataType, default_role
from bi_agent.catalog.imports import check_metrics_fit, lock_dataset, replace_from_staging, staging_table_name
from bi_agent.catalog.names import check_identifier
from bi_agent.catalog.number_text import (
    EXACT_DECIMAL,
    INTEGER,
    LEADING_ZERO,
    NUMBER,
    SIGNED,
    NumberTextStats,
    number_type,
)
from bi_agent.errors import InvalidInputError
from bi_agent.infra.db import psycopg_connection

# ASCII whitespace and the no-break space that spreadsheets leave behind.
WHITESPACE = " \t\n\r\f\v\u00a0"
# Tried in this order after the number types; the first type whose pattern every value
# matches, and whose cast PostgreSQL then accepts for every value, is the column's new type.
COERCIONS: tuple[tuple[DataType, str], ...] = (
    ("date", r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
    (
        "timestamptz",
        r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?$",
    ),
)


class CleaningOutcome(BaseModel):
    """What a clean changed, in counts and column names, never values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str
    rows_before: int
    rows_after: int
    duplicates_dropped: int = Field(description="rows_before - rows_after: exact duplicates left out")
    cells_trimmed: int = Field(description="Text values that lost whitespace at either end")
    columns_coerced: dict[str, DataType] = Field(description="Text columns given a type, with the type")
    data_version: int
    changed: bool = Field(description="false: nothing to clean, the dataset and its data_version stay as they were")


@dataclass(frozen=True)
class _TextColumnStats:
    trimmed: int
    values: int
    numbers: NumberTextStats
    matches: tuple[bool, ...]  # per entry of COERCIONS


def clean_dataset(engine: Engine, dataset: str, *, timezone: str = "UTC") -> CleaningOutcome:
    """Trim, coerce and deduplicate the dataset's rows; returns counts, never values."""
    check_identifier(dataset, "dataset name")
    with engine.begin() as connection:
        lock_dataset(connection, dataset)
        # Timestamps written without a zone are read as UTC, as imports read them.
        connection.execute(text("SET LOCAL TimeZone = 'UTC'"))
        summary = datasets.get_dataset(connection, dataset)
        columns = datasets.get_columns(connection, dataset)
        if not columns:
            raise InvalidInputError(f"dataset {dataset} has no columns to clean")
        raw = psycopg_connection(connection)
        table = sql.SQL("{}.{}").format(sql.Identifier("analytics"), sql.Identifier(dataset))
        rows_before, stats = _text_column_stats(connection, table, columns)
        coerced = _coercions(connection, table, stats)
        specs = [_cleaned_spec(column, coerced.get(column.name)) for column in columns]
        check_metrics_fit(connection, dataset, specs, "clean")
        staging = staging_table_name()
        selected = sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(_cleaned_value(column, coerced.get(column.name)), sql.Identifier(column.name))
            for column in columns
        )
        with raw.cursor() as cursor:
            cursor.execute(
                sql.SQL("CREATE TABLE {}.{} AS SELECT DISTINCT {} FROM {}").format(
                    sql.Identifier("analytics"), sql.Identifier(staging), selected, table
                )
            )
            rows_after = cursor.rowcount
        cells_trimmed = sum(column.trimmed for column in stats.values())
        changed = bool(rows_after != rows_before or cells_trimmed or coerced)
        if not changed:
            raw.execute(sql.SQL("DROP TABLE {}.{}").format(sql.Identifier("analytics"), sql.Identifier(staging)))
            data_version = summary.data_version
        else:
            _, data_version = replace_from_staging(connection, dataset, staging, specs, rows_after, None, timezone)
    return CleaningOutcome(
        dataset=dataset,
        rows_before=rows_before,
        rows_after=rows_after,
        duplicates_dropped=rows_before - rows_after,
        cells_trimmed=cells_trimmed,
        columns_coerced=coerced,
        data_version=data_version,
        changed=changed,
    )


def _trimmed(name: str) -> sql.Composable:
    # A cell that is empty once trimmed holds no value: it becomes NULL, as an empty CSV field does.
    return sql.SQL("nullif(btrim({}, {}), '')").format(sql.Identifier(name), sql.Literal(WHITESPACE))


def _text_column_stats(
    connection: Connection, table: sql.Composable, columns: list[ColumnSpec]
) -> tuple[int, dict[str, _TextColumnStats]]:
    """The row count and, in the same scan, per text column: the cells trimming changes, the
    values left, what they are as numbers, and whether every value matches each type's pattern."""
    texts = [column for column in columns if column.data_type == "text"]
    selected: list[sql.Composable] = [sql.SQL("count(*)")]
    for column in texts:
        trimmed = _trimmed(column.name)
        selected.append(
            sql.SQL("count(*) FILTER (WHERE {} IS DISTINCT FROM {})").format(sql.Identifier(column.name), trimmed)
        )
        selected.append(sql.SQL("count({})").format(trimmed))
        selected.extend(
            sql.SQL("count(*) FILTER (WHERE {} ~ {})").format(trimmed, sql.Literal(pattern))
            for pattern in (NUMBER, INTEGER, EXACT_DECIMAL)
        )
        selected.extend(
            sql.SQL("coalesce(bool_or({} ~ {}), false)").format(trimmed, sql.Literal(pattern))
            for pattern in (LEADING_ZERO, SIGNED)
        )
        selected.extend(
            sql.SQL("{}(length({})) FILTER (WHERE {} ~ {})").format(
                sql.SQL(extreme), trimmed, trimmed, sql.Literal(INTEGER)
            )
            for extreme in ("min", "max")
        )
        selected.extend(
            sql.SQL("coalesce(bool_and({} ~ {}), false)").format(trimmed, sql.Literal(pattern))
            for _, pattern in COERCIONS
        )
    with psycopg_connection(connection).cursor() as cursor:
        cursor.execute(sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(selected), table))
        row = cursor.fetchone()
    assert row is not None
    stats = {}
    width = 9 + len(COERCIONS)
    for index, column in enumerate(texts):
        trimmed, values, numbers, integers, exact, leading_zero, signed, shortest, longest, *matches = row[
            1 + index * width : 1 + (index + 1) * width
        ]
        # A value past a type's range is left to the cast PostgreSQL then tries (_casts).
        as_numbers = NumberTextStats(
            values=values,
            numbers=numbers,
            integers=integers,
            exact_decimals=exact,
            leading_zero=leading_zero,
            signed=signed,
            shortest_integer=shortest,
            longest_integer=longest,
        )
        stats[column.name] = _TextColumnStats(trimmed, values, as_numbers, tuple(matches))
    return row[0], stats


def _coercions(
    connection: Connection, table: sql.Composable, stats: dict[str, _TextColumnStats]
) -> dict[str, DataType]:
    """The new type of each text column that has values and holds nothing but one type."""
    coerced: dict[str, DataType] = {}
    for name, column in stats.items():
        if not column.values:
            continue
        number = number_type(name, column.numbers)
        if number != "text" and _casts(connection, table, name, number):
            coerced[name] = number
            continue
        for (data_type, _), matches in zip(COERCIONS, column.matches, strict=True):
            if matches and _casts(connection, table, name, data_type):
                coerced[name] = data_type
                break
    return coerced


def _casts(connection: Connection, table: sql.Composable, name: str, data_type: DataType) -> bool:
    """Whether PostgreSQL casts every value: a pattern lets through 2024-02-30 or a bigint too large."""
    try:
        # A savepoint, so a refused cast leaves the transaction usable.
        with connection.begin_nested():
            psycopg_connection(connection).execute(
                sql.SQL("SELECT count(CAST({} AS {})) FROM {}").format(_trimmed(name), sql.SQL(data_type), table)
            )
    except psycopg.errors.DataError:
        return False
    return True


def _cleaned_value(column: ColumnSpec, coerced: DataType | None) -> sql.Composable:
    if column.data_type != "text":
        return sql.Identifier(column.name)
    if coerced is None:
        return _trimmed(column.name)
    return sql.SQL("CAST({} AS {})").format(_trimmed(column.name), sql.SQL(coerced))


def _cleaned_spec(column: ColumnSpec, coerced: DataType | None) -> ColumnSpec:
    """The PHI flag is kept; a coerced column takes its new type's role, as a replace import gives it."""
    if coerced is None:
        return column
    return ColumnSpec(column.name, column.source_name, coerced, default_role(coerced), column.phi)
