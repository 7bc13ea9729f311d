"""The dataset catalog in schema `bi`: datasets, their columns and import history.

Data rows live in `analytics.<name>`; this module keeps what is known about them.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from psycopg import sql
from pydantic import BaseModel, Field
from sqlalchemy import Connection, text

from bi_agent.catalog.columns import ColumnSpec, DataType, Role
from bi_agent.catalog.filters import condition
from bi_agent.catalog.names import check_identifier
from bi_agent.catalog.query_spec import Filter
from bi_agent.catalog.values import json_value
from bi_agent.errors import ConflictError, InvalidInputError, NotFoundError
from bi_agent.infra.db import psycopg_connection

if TYPE_CHECKING:
    from bi_agent.security.read_scope import ReadScope


@dataclass(frozen=True)
class DatasetSummary:
    id: uuid.UUID
    name: str
    description: str
    row_count: int
    data_version: int
    created_at: datetime
    updated_at: datetime


class ColumnInfo(BaseModel):
    name: str
    source_name: str = Field(description="The column's header in the file it came from")
    type: DataType
    role: Role
    phi: bool

    @classmethod
    def of(cls, column: ColumnSpec) -> ColumnInfo:
        return cls(
            name=column.name, source_name=column.source_name, type=column.data_type, role=column.role, phi=column.phi
        )


class DatasetInfo(BaseModel):
    name: str
    description: str
    row_count: int = Field(description="Under a row policy, the rows the caller may see")
    row_policy: bool = Field(description="A row policy limits what the caller sees of it")
    data_version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, summary: DatasetSummary, visible_rows: int | None) -> DatasetInfo:
        """`visible_rows`: the count under the caller's row policy, who must not learn the whole's."""
        return cls(
            name=summary.name,
            description=summary.description,
            row_count=summary.row_count if visible_rows is None else visible_rows,
            row_policy=visible_rows is not None,
            data_version=summary.data_version,
            created_at=summary.created_at,
            updated_at=summary.updated_at,
        )


class SkippedLine(BaseModel):
    line: int
    reason: str = Field(description="Why the line was skipped; never a value of it")


class ImportRecord(BaseModel):
    id: uuid.UUID
    filename: str
    file_format: str
    size_bytes: int
    sha256: str
    mode: str
    rows_imported: int
    rows_skipped: int
    skipped_sample: list[SkippedLine] = Field(description="A sample of the lines skipped (on_error=skip)")
    column_mapping: dict[str, str] = Field(description="Each header of the file and the column it became")
    data_version: int
    job_id: str | None
    imported_by: str | None
    started_at: datetime | None
    finished_at: datetime | None


class DatasetDetail(DatasetInfo):
    columns: list[ColumnInfo]
    imports: list[ImportRecord] = Field(description="Newest first; left out under a row policy")


def visible_datasets(
    connection: Connection, limit: int, offset: int, scope: ReadScope
) -> tuple[list[DatasetInfo], int]:
    """A page of datasets by name; under a row policy, counts of what the caller may see."""
    items, total = list_datasets(connection, limit, offset)
    limited = scope.restricted_datasets(connection)
    return [
        DatasetInfo.of(
            item,
            visible_row_count(connection, item.name, scope.row_filters(connection, item.name))
            if item.name in limited
            else None,
        )
        for item in items
    ], total


def describe(connection: Connection, name: str, scope: ReadScope) -> DatasetDetail:
    """The dataset's columns and imports; under a row policy, the count of the rows the caller may
    see and no imports (their counts are of the whole)."""
    summary = get_dataset(connection, name)
    limited = name in scope.restricted_datasets(connection)
    visible = visible_row_count(connection, name, scope.row_filters(connection, name)) if limited else None
    history = [] if limited else import_history(connection, summary.id)
    return DatasetDetail(
        **DatasetInfo.of(summary, visible).model_dump(),
        columns=[ColumnInfo.of(column) for column in get_columns(connection, name)],
        imports=history,
    )


def find_columns(connection: Connection, name: str) -> list[ColumnSpec] | None:
    """The dataset's columns in order, or None when there is no such dataset."""
    rows = connection.execute(
        text(
            "SELECT c.name, c.source_name, c.data_type, c.role, c.phi FROM bi.datasets d "
            "LEFT JOIN bi.dataset_columns c ON c.dataset_id = d.id WHERE d.name = :name ORDER BY c.position"
        ),
        {"name": name},
    ).all()
    if not rows:
        return None
    return [ColumnSpec(row.name, row.source_name, row.data_type, row.role, row.phi) for row in rows if row.name]


def get_columns(connection: Connection, name: str) -> list[ColumnSpec]:
    columns = find_columns(connection, name)
    if columns is None:
        raise NotFoundError(f"no dataset named {name!r}")
    return columns


def record_replace(
    connection: Connection,
    name: str,
    specs: list[ColumnSpec],
    row_count: int,
    user_id: uuid.UUID | None,
    *,
    keep_flags: bool = True,
) -> tuple[uuid.UUID, int]:
    """Create or update the catalog entry after a replace; roles and PHI flags set earlier are kept
    unless `keep_flags` is False (a de-identified copy takes the roles and flags of `specs`)."""
    earlier = {column.name: column for column in find_columns(connection, name) or []} if keep_flags else {}
    row = connection.execute(
        text(
            "INSERT INTO bi.datasets (name, row_count, data_version, created_by) VALUES (:name, :rows, 1, :user) "
            "ON CONFLICT (name) DO UPDATE SET row_count = :rows, data_version = bi.datasets.data_version + 1, "
            "updated_at = now() RETURNING id, data_version"
        ),
        {"name": name, "rows": row_count, "user": user_id},
    ).one()
    connection.execute(text("DELETE FROM bi.dataset_columns WHERE dataset_id = :id"), {"id": row.id})
    for position, spec in enumerate(specs):
        kept = earlier.get(spec.name)
        same_type = kept is not None and kept.data_type == spec.data_type
        connection.execute(
            text(
                "INSERT INTO bi.dataset_columns (dataset_id, name, position, source_name, data_type, role, phi) "
                "VALUES (:id, :name, :position, :source, :type, :role, :phi)"
            ),
            {
                "id": row.id,
                "name": spec.name,
                "position": position,
                "source": spec.source_name,
                "type": spec.data_type,
                "role": kept.role if same_type and kept is not None else spec.role,
                "phi": kept.phi if kept is not None else spec.phi,
            },
        )
    return row.id, row.data_version


def record_append(connection: Connection, name: str, added_rows: int) -> tuple[uuid.UUID, int]:
    row = connection.execute(
        text(
            "UPDATE bi.datasets SET row_count = row_count + :rows, data_version = data_version + 1, "
            "updated_at = now() WHERE name = :name RETURNING id, data_version"
        ),
        {"name": name, "rows": added_rows},
    ).one()
    return row.id, row.data_version


def record_import(connection: Connection, dataset_id: uuid.UUID, request_fields: dict[str, Any]) -> uuid.UUID:
    values = dict(request_fields)
    values["skipped_sample"] = json.dumps(values["skipped_sample"])
    values["column_mapping"] = json.dumps(values["column_mapping"])
    import_id: uuid.UUID = connection.execute(
        text(
            "INSERT INTO bi.imports (dataset_id, sha256, object_key, filename, file_format, size_bytes, mode, "
            "rows_imported, rows_skipped, skipped_sample, column_mapping, data_version, job_id, imported_by, "
            "started_at) VALUES (:dataset_id, :sha256, :object_key, :filename, :file_format, :size_bytes, :mode, "
            ":rows_imported, :rows_skipped, CAST(:skipped_sample AS jsonb), CAST(:column_mapping AS jsonb), "
            ":data_version, :job_id, :imported_by, :started_at) RETURNING id"
        ),
        {"dataset_id": dataset_id, **values},
    ).scalar_one()
    return import_id


def list_datasets(connection: Connection, limit: int, offset: int) -> tuple[list[DatasetSummary], int]:
    total = connection.execute(text("SELECT count(*) FROM bi.datasets")).scalar_one()
    rows = connection.execute(
        text(
            "SELECT id, name, description, row_count, data_version, created_at, updated_at FROM bi.datasets "
            "ORDER BY name LIMIT :limit OFFSET :offset"
        ),
        {"limit": limit, "offset": offset},
    ).all()
    return [DatasetSummary(*row) for row in rows], total


def get_dataset(connection: Connection, name: str) -> DatasetSummary:
    row = connection.execute(
        text(
            "SELECT id, name, description, row_count, data_version, created_at, updated_at FROM bi.datasets "
            "WHERE name = :name"
        ),
        {"name": name},
    ).first()
    if row is None:
        raise NotFoundError(f"no dataset named {name!r}")
    return DatasetSummary(*row)


def import_history(connection: Connection, dataset_id: uuid.UUID, limit: int = 50) -> list[ImportRecord]:
    rows = connection.execute(
        text(
            "SELECT i.id, i.filename, i.file_format, i.size_bytes, i.sha256, i.mode, i.rows_imported, "
            "i.rows_skipped, i.skipped_sample, i.column_mapping, i.data_version, i.job_id, u.username AS imported_by, "
            "i.started_at, i.finished_at FROM bi.imports i LEFT JOIN bi.users u ON u.id = i.imported_by "
            "WHERE i.dataset_id = :id ORDER BY i.finished_at DESC LIMIT :limit"
        ),
        {"id": dataset_id, "limit": limit},
    ).mappings()
    return [ImportRecord.model_validate(dict(row)) for row in rows]


@dataclass(frozen=True)
class ColumnChange:
    name: str
    role: Role | None = None
    phi: bool | None = None


def update_columns(connection: Connection, name: str, changes: list[ColumnChange]) -> list[ColumnSpec]:
    columns = {column.name: column for column in get_columns(connection, name)}
    unknown = [change.name for change in changes if change.name not in columns]
    if unknown:
        raise InvalidInputError(f"dataset {name} has no column {', '.join(unknown)}")
    for change in changes:
        column = columns[change.name]
        if change.role == "time" and column.data_type not in ("date", "timestamptz"):
            raise InvalidInputError(
                f"column {change.name} is {column.data_type}; only dates and timestamps can be time"
            )
        if change.role == "measure" and column.data_type not in ("bigint", "double precision", "numeric"):
            raise InvalidInputError(f"column {change.name} is {column.data_type}; only numbers can be measures")
        connection.execute(
            text(
                "UPDATE bi.dataset_columns SET role = coalesce(:role, role), phi = coalesce(:phi, phi) "
                "WHERE name = :column AND dataset_id = (SELECT id FROM bi.datasets WHERE name = :dataset)"
            ),
            {"role": change.role, "phi": change.phi, "column": change.name, "dataset": name},
        )
    connection.execute(text("UPDATE bi.datasets SET updated_at = now() WHERE name = :name"), {"name": name})
    return get_columns(connection, name)


def delete_dataset(connection: Connection, name: str) -> None:
    check_identifier(name, "dataset name")
    get_dataset(connection, name)
    raw = psycopg_connection(connection)
    # CASCADE takes the rollup views along; their catalog rows go with the dataset's.
    raw.execute(sql.SQL("DROP TABLE IF EXISTS {}.{} CASCADE").format(sql.Identifier("analytics"), sql.Identifier(name)))
    connection.execute(text("DELETE FROM bi.datasets WHERE name = :name"), {"name": name})


def preview_rows(connection: Connection, name: str, limit: int, offset: int, scope: ReadScope) -> RowsPage:
    """A page of rows in table order, within the caller's row policy. For a scope without PHI,
    PHI columns are not even read: they show as null and are listed in `masked`."""
    columns = get_columns(connection, name)
    policy = scope.row_filters(connection, name)
    table, kept = _within_policy(name, columns, policy)
    masked = scope.masked(column.name for column in columns if column.phi)
    selected = [sa.null().label(column.name) if column.name in masked else table.c[column.name] for column in columns]
    rows = connection.execute(sa.select(*selected).where(*kept).limit(limit).offset(offset)).all()
    return RowsPage.model_construct(
        columns=[column.name for column in columns],
        rows=[[json_value(value) for value in row] for row in rows],
        masked=masked,
        total=visible_row_count(connection, name, policy),
        limit=limit,
        offset=offset,
    )


# What an export sends at once.
EXPORT_BLOCK_BYTES = 1 << 20


def export_csv(connection: Connection, name: str, scope: ReadScope) -> Iterator[bytes]:
    """Every row the caller's row policy lets through, as CSV in table order: a header of the
    file's own column names, then each value as PostgreSQL writes it (numbers and text exactly
    as stored, times in UTC). For a scope without PHI, PHI columns are empty (not read at all).
    Streams: the rows are never all in memory."""
    columns = get_columns(connection, name)
    table, kept = _within_policy(name, columns, scope.row_filters(connection, name))
    masked = scope.masked(column.name for column in columns if column.phi)
    selected = [sa.null().label(c.name) if c.name in masked else table.c[c.name] for c in columns]
    compiled = sa.select(*selected).where(*kept).compile(dialect=connection.dialect)
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow([column.source_name for column in columns])
    yield header.getvalue().encode()
    raw = psycopg_connection(connection)
    raw.execute("SET LOCAL TimeZone = 'UTC'")
    # The statement's values are bound by psycopg on the client: COPY takes no server-side parameters.
    statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(sql.SQL(str(compiled)))
    # COPY hands over a row at a time; a response sent in rows costs the server a send per row.
    block = bytearray()
    with raw.cursor() as cursor, cursor.copy(statement, compiled.params) as copy:
        for chunk in copy:
            block += chunk
            if len(block) >= EXPORT_BLOCK_BYTES:
                yield bytes(block)
                block.clear()
    yield bytes(block)


def visible_row_count(connection: Connection, name: str, policy: Sequence[Filter] = ()) -> int:
    """The rows a caller under `policy` may see: the catalog's count when no policy limits them."""
    if not policy:
        return get_dataset(connection, name).row_count
    table, kept = _within_policy(name, get_columns(connection, name), policy)
    return int(connection.execute(sa.select(sa.func.count()).select_from(table).where(*kept)).scalar_one())


def _within_policy(name: str, columns: Sequence[ColumnSpec], policy: Sequence[Filter]) -> tuple[Any, list[Any]]:
    """The dataset's table and the policy's conditions on it; 409 when the policy names a lost column."""
    table = sa.table(name, *(sa.column(column.name) for column in columns), schema="analytics")
    known = {column.name for column in columns}
    for item in policy:
        if item.dimension not in known:
            # Closed, not open: a policy whose column a later import dropped hides everything.
            raise ConflictError(
                f"a row policy on dataset {name} names column {item.dimension}, which it no longer has; "
                "an admin must set the policy again"
            )
    return table, [condition(table.c[item.dimension], item) for item in policy]


class RowsPage(BaseModel):
    """A page of a dataset's rows (GET /api/v1/datasets/{name}/rows)."""

    columns: list[str]
    rows: list[list[Any]] = Field(description="Values in the order of `columns`")
    masked: list[str] = Field(description="PHI columns shown as null: the caller lacks phi:read")
    total: int = Field(description="Rows the caller's row policy lets through")
    limit: int
    offset: int


def column_type(columns: list[ColumnSpec], name: str) -> DataType:
    for column in columns:
        if column.name == name:
            return column.data_type
    raise InvalidInputError(f"no column {name}")
