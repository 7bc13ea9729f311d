"""Metrics: `aggregation(column)` over a dataset, on a time column, with allowed dimensions.

A metric is checked against its dataset's schema when defined (an unknown column,
`sum` of text, min or max of text, a time column that is not a date are refused), and
every change of the metrics of a dataset reshapes that dataset's rollups in the same
transaction. A metric whose definition shows values of a PHI column (security/phi_access)
needs `phi:read` to be defined, changed or queried; each metric read here carries its
dataset's PHI columns as they are now, so that is decided from the current flags.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from bi_agent.catalog import datasets, rollups
from bi_agent.catalog.columns import NUMBER_TYPES, ColumnSpec
from bi_agent.catalog.names import check_identifier
from bi_agent.catalog.query_spec import Filter, FilterOp, Scalar
from bi_agent.errors import ConflictError, InvalidInputError, NotFoundError
from bi_agent.security import phi_access

Aggregation = Literal["count", "count_distinct", "sum", "avg", "min", "max"]
TIME_TYPES = ("date", "timestamptz")
# Text is left out: min and max of text are one record's value (a name, a number), not an aggregate.
ORDERED_TYPES = (*NUMBER_TYPES, *TIME_TYPES)


class MetricDefinition(BaseModel):
    """What a client sends to define a metric."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=63)
    dataset: str = Field(min_length=1, max_length=63)
    aggregation: Aggregation
    column: str | None = Field(default=None, description="Omit for count(*)")
    time_column: str
    dimensions: list[str] = Field(default_factory=list, max_length=12)
    filters: list[Filter] = Field(default_factory=list, max_length=20)
    description: str = Field(default="", max_length=2000)
    format: str = Field(default="", max_length=40, description="A display hint such as `currency` or `0.0%`")


@dataclass(frozen=True)
class Metric:
    id: uuid.UUID
    name: str
    dataset: str
    dataset_id: uuid.UUID
    aggregation: Aggregation
    column: str | None
    time_column: str
    dimensions: tuple[str, ...]
    filters: tuple[Filter, ...] = field(default=())
    description: str = ""
    format: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # The dataset's PHI columns when the metric was read.
    phi_in_dataset: tuple[str, ...] = ()

    @property
    def phi_shown(self) -> dict[str, str]:
        """The PHI columns whose values this metric shows, and how; empty unless a PHI metric."""
        return phi_shown(self, self.phi_in_dataset)


class MetricPatch(BaseModel):
    """Fields to change; the rest stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=63)
    aggregation: Aggregation | None = None
    column: str | None = None
    time_column: str | None = None
    dimensions: list[str] | None = Field(default=None, max_length=12)
    filters: list[Filter] | None = Field(default=None, max_length=20)
    description: str | None = Field(default=None, max_length=2000)
    format: str | None = Field(default=None, max_length=40)


class ShownFilter(BaseModel):
    """A metric's filter as the caller is shown it."""

    dimension: str
    op: FilterOp
    value: Scalar | list[Scalar] | None = Field(
        description="null when the dimension is a PHI column and the caller lacks `phi:read`"
    )


class MetricReply(BaseModel):
    """A metric's definition as the caller is shown it."""

    id: uuid.UUID
    name: str
    dataset: str
    aggregation: Aggregation
    column: str | None = Field(description="null for count(*)")
    time_column: str
    dimensions: list[str]
    filters: list[ShownFilter]
    phi: bool = Field(description="A PHI metric: defining, changing or querying it needs `phi:read`")
    phi_columns: list[str] = Field(description="The PHI columns whose values the metric shows")
    description: str
    format: str = Field(description="A display hint such as `currency` or `0.0%`")
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, metric: Metric, *, phi_allowed: bool) -> MetricReply:
        """For a caller without `phi:read`, filters on PHI columns keep their dimension and op
        but not their value (`"value": null`)."""
        shown = metric.phi_shown
        filters = [item.model_dump() for item in metric.filters]
        if not phi_allowed:
            filters = phi_access.hide_phi_filter_values(filters, metric.phi_in_dataset)
        return cls(
            id=metric.id,
            name=metric.name,
            dataset=metric.dataset,
            aggregation=metric.aggregation,
            column=metric.column,
            time_column=metric.time_column,
            dimensions=list(metric.dimensions),
            filters=[ShownFilter.model_validate(item) for item in filters],
            phi=bool(shown),
            phi_columns=list(shown),
            description=metric.description,
            format=metric.format,
            created_at=metric.created_at,
            updated_at=metric.updated_at,
        )


def phi_shown(definition: Metric | MetricDefinition, phi_columns: Collection[str]) -> dict[str, str]:
    """What `phi_access.metric_phi_columns` says of this definition over these PHI columns."""
    return phi_access.metric_phi_columns(
        aggregation=definition.aggregation,
        column=definition.column,
        time_column=definition.time_column,
        filter_columns=[item.dimension for item in definition.filters],
        phi_columns=phi_columns,
    )


def check_definition(definition: Metric | MetricDefinition, columns: list[ColumnSpec]) -> None:
    """Refuse a metric its dataset cannot answer, naming the column and why: a new definition,
    or a stored one against its dataset as it is now."""
    check_identifier(definition.name, "metric name")
    types = {column.name: column.data_type for column in columns}
    where = f"dataset {definition.dataset}"

    def known(name: str, role: str) -> str:
        if name not in types:
            raise InvalidInputError(f"{role} {name!r}: {where} has no such column")
        return types[name]

    if definition.column is None:
        if definition.aggregation != "count":
            raise InvalidInputError(f"aggregation {definition.aggregation} needs a column")
    else:
        column_type = known(definition.column, "column")
        if definition.aggregation in ("sum", "avg") and column_type not in NUMBER_TYPES:
            raise InvalidInputError(
                f"column {definition.column} is {column_type}; {definition.aggregation} needs a number column"
            )
        if definition.aggregation in ("min", "max") and column_type == "text":
            raise InvalidInputError(
                f"column {definition.column} is text: {definition.aggregation} of text returns one record's value, "
                "not an aggregate; count or count_distinct it instead"
            )
        if definition.aggregation in ("min", "max") and column_type not in ORDERED_TYPES:
            raise InvalidInputError(f"column {definition.column} is {column_type}; it has no {definition.aggregation}")
    if known(definition.time_column, "time_column") not in TIME_TYPES:
        raise InvalidInputError(f"time_column {definition.time_column} is not a date or timestamp column")
    for dimension in definition.dimensions:
        known(dimension, "dimension")
        if dimension == definition.time_column:
            raise InvalidInputError(f"dimension {dimension} is the time column; periods come from the grain")
    if len(set(definition.dimensions)) != len(definition.dimensions):
        raise InvalidInputError("dimensions are listed twice")
    for item in definition.filters:
        known(item.dimension, "filter dimension")


_SELECT = (
    "SELECT m.id, m.name, d.name AS dataset, m.dataset_id, m.aggregation, m.column_name, m.time_column, "
    "m.dimensions, m.filters, m.description, m.format, m.created_at, m.updated_at, "
    "ARRAY(SELECT c.name FROM bi.dataset_columns c WHERE c.dataset_id = m.dataset_id AND c.phi "
    "ORDER BY c.name) AS phi_columns "
    "FROM bi.metrics m JOIN bi.datasets d ON d.id = m.dataset_id"
)


def _metric(row: Any) -> Metric:
    return Metric(
        id=row.id,
        name=row.name,
        dataset=row.dataset,
        dataset_id=row.dataset_id,
        aggregation=row.aggregation,
        column=row.column_name,
        time_column=row.time_column,
        dimensions=tuple(row.dimensions),
        filters=tuple(Filter.model_validate(item) for item in row.filters),
        description=row.description,
        format=row.format,
        created_at=row.created_at,
        updated_at=row.updated_at,
        phi_in_dataset=tuple(row.phi_columns),
    )


def _check_phi(definition: MetricDefinition, columns: list[ColumnSpec], phi_allowed: bool) -> None:
    phi_columns = [column.name for column in columns if column.phi]
    phi_access.check_metric_phi(definition.name, phi_shown(definition, phi_columns), phi_allowed=phi_allowed)


def create_metric(
    connection: Connection,
    definition: MetricDefinition,
    user_id: uuid.UUID | None,
    timezone: str,
    *,
    phi_allowed: bool,
) -> Metric:
    """Define a metric; a PHI metric needs `phi_allowed` (the caller holds `phi:read`)."""
    columns = datasets.get_columns(connection, definition.dataset)
    check_definition(definition, columns)
    _check_phi(definition, columns, phi_allowed)
    try:
        with connection.begin_nested():
            connection.execute(
                text(
                    "INSERT INTO bi.metrics (name, dataset_id, aggregation, column_name, time_column, dimensions, "
                    "filters, description, format, created_by) SELECT :name, d.id, :aggregation, :column, :time, "
                    ":dimensions, CAST(:filters AS jsonb), :description, :format, :user FROM bi.datasets d "
                    "WHERE d.name = :dataset"
                ),
                _values(definition) | {"user": user_id},
            )
    except IntegrityError:
        raise ConflictError(f"a metric named {definition.name!r} exists already") from None
    metric = get_metric(connection, definition.name)
    rollups.sync(connection, metric.dataset, timezone)
    return metric


def replace_metric(
    connection: Connection, name: str, definition: MetricDefinition, timezone: str, *, phi_allowed: bool
) -> Metric:
    """Change a metric; changing a PHI metric, or into one, needs `phi_allowed`."""
    earlier = get_metric(connection, name)
    phi_access.check_metric_phi(earlier.name, earlier.phi_shown, phi_allowed=phi_allowed)
    columns = datasets.get_columns(connection, definition.dataset)
    check_definition(definition, columns)
    _check_phi(definition, columns, phi_allowed)
    try:
        with connection.begin_nested():
            connection.execute(
                text(
                    "UPDATE bi.metrics SET name = :name, "
                    "dataset_id = (SELECT id FROM bi.datasets WHERE name = :dataset), aggregation = :aggregation, "
                    "column_name = :column, time_column = :time, dimensions = :dimensions, "
                    "filters = CAST(:filters AS jsonb), description = :description, format = :format, "
                    "updated_at = now() WHERE id = :id"
                ),
                _values(definition) | {"id": earlier.id},
            )
    except IntegrityError:
        raise ConflictError(f"a metric named {definition.name!r} exists already") from None
    rollups.sync(connection, earlier.dataset, timezone)
    if definition.dataset != earlier.dataset:
        rollups.sync(connection, definition.dataset, timezone)
    return get_metric(connection, definition.name)


def change_metric(connection: Connection, name: str, patch: MetricPatch, timezone: str, *, phi_allowed: bool) -> Metric:
    """Change the fields `patch` sets, checked as a new definition would be (`replace_metric`)."""
    current = get_metric(connection, name)
    merged = {
        "name": current.name,
        "dataset": current.dataset,
        "aggregation": current.aggregation,
        "column": current.column,
        "time_column": current.time_column,
        "dimensions": list(current.dimensions),
        "filters": list(current.filters),
        "description": current.description,
        "format": current.format,
    } | patch.model_dump(exclude_unset=True)
    definition = MetricDefinition.model_validate(merged)
    return replace_metric(connection, name, definition, timezone, phi_allowed=phi_allowed)


def _values(definition: MetricDefinition) -> dict[str, Any]:
    return {
        "name": definition.name,
        "dataset": definition.dataset,
        "aggregation": definition.aggregation,
        "column": definition.column,
        "time": definition.time_column,
        "dimensions": definition.dimensions,
        "filters": json.dumps([item.model_dump(mode="json") for item in definition.filters]),
        "description": definition.description,
        "format": definition.format,
    }


def delete_metric(connection: Connection, name: str, timezone: str) -> None:
    metric = get_metric(connection, name)
    connection.execute(text("DELETE FROM bi.metrics WHERE id = :id"), {"id": metric.id})
    rollups.sync(connection, metric.dataset, timezone)


def get_metric(connection: Connection, name: str) -> Metric:
    row = connection.execute(text(f"{_SELECT} WHERE m.name = :name"), {"name": name}).first()
    if row is None:
        raise NotFoundError(f"no metric named {name!r}")
    return _metric(row)


def find_metrics(connection: Connection, names: list[str]) -> list[Metric]:
    """The named metrics in the order asked; 422 naming any that does not exist."""
    rows = connection.execute(text(f"{_SELECT} WHERE m.name = ANY(:names)"), {"names": names}).all()
    found = {row.name: _metric(row) for row in rows}
    unknown = [name for name in names if name not in found]
    if unknown:
        raise InvalidInputError(f"unknown metric {', '.join(repr(name) for name in unknown)}")
    return [found[name] for name in names]


def list_metrics(
    connection: Connection, limit: int, offset: int, dataset: str | None = None
) -> tuple[list[Metric], int]:
    total = connection.execute(
        text(
            "SELECT count(*) FROM bi.metrics m JOIN bi.datasets d ON d.id = m.dataset_id "
            "WHERE CAST(:dataset AS text) IS NULL OR d.name = :dataset"
        ),
        {"dataset": dataset},
    ).scalar_one()
    rows = connection.execute(
        text(
            f"{_SELECT} WHERE CAST(:dataset AS text) IS NULL OR d.name = :dataset "
            "ORDER BY m.name LIMIT :limit OFFSET :offset"
        ),
        {"dataset": dataset, "limit": limit, "offset": offset},
    ).all()
    return [_metric(row) for row in rows], total


def metrics_of_dataset(connection: Connection, dataset: str) -> list[Metric]:
    rows = connection.execute(text(f"{_SELECT} WHERE d.name = :dataset ORDER BY m.name"), {"dataset": dataset}).all()
    return [_metric(row) for row in rows]


def fingerprint(connection: Connection, names: list[str]) -> tuple[str, int, list[str]]:
    """In one read: the metrics' dataset, its data_version, and a version of each definition
    followed by the dataset's PHI columns (a flag set later makes a new key, so an answer
    cached before it is never served to a caller the flag now refuses).

    Unknown metrics and metrics of several datasets are refused as `find_metrics` would.
    """
    rows = connection.execute(
        text(
            "SELECT m.name, m.id, m.updated_at, d.name AS dataset, d.data_version, "
            "ARRAY(SELECT c.name FROM bi.dataset_columns c WHERE c.dataset_id = d.id AND c.phi "
            "ORDER BY c.name) AS phi_columns FROM bi.metrics m "
            "JOIN bi.datasets d ON d.id = m.dataset_id WHERE m.name = ANY(:names)"
        ),
        {"names": names},
    ).all()
    found = {row.name: row for row in rows}
    unknown = [name for name in names if name not in found]
    if unknown:
        raise InvalidInputError(f"unknown metric {', '.join(repr(name) for name in unknown)}")
    dataset_names = sorted({row.dataset for row in rows})
    if len(dataset_names) > 1:
        raise InvalidInputError(f"metrics of one query must share a dataset; these use {', '.join(dataset_names)}")
    definitions = [f"{found[name].id}@{found[name].updated_at.isoformat()}" for name in sorted(set(names))]
    definitions.append("phi:" + ",".join(rows[0].phi_columns))
    return rows[0].dataset, rows[0].data_version, definitions
