"""Datasets: upload a file into one, read its schema, rows and import history, change or drop it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Response, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from bi_agent.catalog import datasets, profiles
from bi_agent.catalog.columns import Role
from bi_agent.catalog.files import OnError
from bi_agent.catalog.imports import EarlierImport, ImportQueued, queue_upload
from bi_agent.catalog.names import check_identifier
from bi_agent.errors import PermissionDeniedError
from bi_agent.http.auth import ConnectionsDep, read_scope, require
from bi_agent.http.pages import Listing, Page, PageDep, paging
from bi_agent.http.request_bounds import BodyLimit
from bi_agent.infra.connections import Connections
from bi_agent.security import audit
from bi_agent.security.permissions import Permission, Principal
from bi_agent.security.phi_access import PhiRead
from bi_agent.security.read_scope import ReadScope
from bi_agent.settings import Settings

router = APIRouter(prefix="/datasets", tags=["datasets"])

CanRead = Annotated[ReadScope, read_scope(Permission.DATASETS_READ)]
CanWrite = Annotated[Principal, require(Permission.DATASETS_WRITE)]
# The form's fields and part headers around the file.
MULTIPART_OVERHEAD_BYTES = 1 << 20


def upload_body_limit(settings: Settings) -> BodyLimit:
    """An upload's body: the file, up to IMPORT_MAX_UPLOAD_MB, and its form."""
    return BodyLimit(
        "POST",
        "/api/v1/datasets",
        (settings.import_max_upload_mb << 20) + MULTIPART_OVERHEAD_BYTES,
        "IMPORT_MAX_UPLOAD_MB",
    )


@router.post(
    "",
    status_code=202,
    response_model=ImportQueued,
    summary="Upload a file into a dataset",
    responses={200: {"model": EarlierImport, "description": "The dataset imported this file before"}},
)
def upload(
    principal: CanWrite,
    connections: ConnectionsDep,
    file: Annotated[UploadFile, File(description="CSV, Parquet or JSON Lines; .gz accepted")],
    name: Annotated[str, Form(description="Dataset name: a plain identifier")],
    mode: Annotated[Literal["append", "replace"], Form()] = "append",
    on_error: Annotated[OnError, Form(description="fail: refuse a file with a bad row; skip: count them")] = (
        OnError.FAIL
    ),
) -> ImportQueued | JSONResponse:
    """Check the whole file now (a bad one gets a 422 naming line and column), keep the original
    in bucket `datasets` under its SHA-256, and queue `import_data`. A file this dataset already
    imported adds nothing: the reply points at the earlier import."""
    filename = Path(file.filename or "upload").name
    reply = queue_upload(connections, file.file, filename, name, mode, on_error, principal.user_id)
    if isinstance(reply, EarlierImport):
        # 200, not the route's 202: a response of its own, sent as it is (declared in `responses`).
        return JSONResponse(reply.model_dump(mode="json", by_alias=True))
    return reply


@router.get("", summary="List datasets")
def list_datasets(scope: CanRead, connections: ConnectionsDep, page: PageDep) -> Listing[datasets.DatasetInfo]:
    """Datasets by name, with row count and data version. Under a row policy, `row_count` is
    the rows the caller may see, and `row_policy` is true."""
    with connections.engine.connect() as connection:
        items, total = datasets.visible_datasets(connection, page.limit, page.offset, scope)
    return Listing(items=items, total=total)


@router.get("/{name}", summary="A dataset's schema and import history")
def get_dataset(scope: CanRead, connections: ConnectionsDep, name: str) -> datasets.DatasetDetail:
    """Columns with type, role and PHI flag; row count; data version; the imports, newest first.
    Under a row policy, `row_count` is the rows the caller may see and the imports (whose
    counts are of the whole) are left out."""
    check_identifier(name, "dataset name")
    with connections.engine.connect() as connection:
        return datasets.describe(connection, name, scope)


class ColumnPatch(BaseModel):
    name: str
    role: Role | None = None
    phi: bool | None = None


class ColumnsPatch(BaseModel):
    columns: list[ColumnPatch] = Field(min_length=1)


class Columns(BaseModel):
    columns: list[datasets.ColumnInfo]


@router.patch("/{name}/columns", summary="Change columns' roles or PHI flags")
def patch_columns(principal: CanWrite, connections: ConnectionsDep, name: str, body: ColumnsPatch) -> Columns:
    """Set `role` (time, dimension, measure) or `phi` per column; PHI flags need `phi:read`."""
    check_identifier(name, "dataset name")
    if any(change.phi is not None for change in body.columns) and not principal.has(Permission.PHI_READ):
        raise PermissionDeniedError("changing PHI flags needs the permission phi:read, which your roles lack")
    changes = [datasets.ColumnChange(change.name, change.role, change.phi) for change in body.columns]
    with connections.engine.begin() as connection:
        columns = datasets.update_columns(connection, name, changes)
    return Columns(columns=[datasets.ColumnInfo.of(column) for column in columns])


@router.delete("/{name}", status_code=204, summary="Drop a dataset and its rows")
def delete_dataset(principal: CanWrite, connections: ConnectionsDep, name: str) -> Response:
    """Drops the table and the catalog entry; the original files stay in bucket `datasets`."""
    with connections.engine.begin() as connection:
        datasets.delete_dataset(connection, name)
    return Response(status_code=204)


@router.get("/{name}/rows", summary="Preview rows")
def preview(
    scope: CanRead,
    connections: ConnectionsDep,
    name: str,
    page: Annotated[Page, paging(default_limit=100, max_limit=1000)],
) -> datasets.RowsPage:
    """A page of rows in table order, with the column names, within the caller's row policy
    (`total` counts what it lets through). PHI columns are null for a caller without
    `phi:read`, and listed in `masked`. In HIPAA mode a dataset with PHI columns needs the
    header `X-Purpose`, and each read is audited."""
    _check_rows_read(scope, connections, name, audit.Action.DATASET_ROWS, "rows")
    with connections.engine.connect() as connection:
        return datasets.preview_rows(connection, name, page.limit, page.offset, scope)


def _check_rows_read(
    scope: ReadScope, connections: Connections, name: str, action: audit.Action, route: str
) -> list[str]:
    """404 for no such dataset; in HIPAA mode a read of a dataset with PHI columns needs a
    purpose and is audited. The dataset's PHI columns."""
    check_identifier(name, "dataset name")
    with connections.engine.connect() as connection:
        datasets.get_dataset(connection, name)  # 404 before anything else
        phi_columns = [column.name for column in datasets.get_columns(connection, name) if column.phi]
    scope.check_rows_read(
        connections.engine, name, phi_columns, action=action, resource=f"/api/v1/datasets/{name}/{route}"
    )
    return phi_columns


@router.get(
    "/{name}/export",
    summary="Download a dataset's rows as CSV",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The rows, a header line first"}},
)
def export(scope: CanRead, connections: ConnectionsDep, name: str) -> StreamingResponse:
    """Every row within the caller's row policy, as CSV: the file's own column names, then each
    value exactly as stored (a code keeps its leading zeros, `0.50` stays `0.50`; times in UTC).
    PHI columns are empty for a caller without `phi:read`, and named in `X-Masked-Columns`. In
    HIPAA mode a dataset with PHI columns needs the header `X-Purpose`, and each export is audited."""
    phi_columns = _check_rows_read(scope, connections, name, audit.Action.EXPORT, "export")

    def rows() -> Iterator[bytes]:
        with connections.engine.begin() as connection:
            yield from datasets.export_csv(connection, name, scope)

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"',
            "X-Masked-Columns": ",".join(scope.masked(phi_columns)),
        },
    )


@router.get("/{name}/profile", summary="A dataset's profile", response_model_exclude_unset=True)
def get_profile(scope: CanRead, connections: ConnectionsDep, name: str) -> profiles.Profile:
    """Per column: nulls, distinct, min, max and a histogram, as of the profile's data version
    (`stale` when newer data has arrived). PHI columns show counts only. A profile covers every
    row, so a caller whom a row policy limits on this dataset gets 403."""
    check_identifier(name, "dataset name")
    with connections.engine.connect() as connection:
        if name in scope.restricted_datasets(connection):
            raise PermissionDeniedError(
                f"a row policy limits what your roles see of dataset {name}; its profile covers every row"
            )
        phi_columns = [column.name for column in datasets.get_columns(connection, name) if column.phi]
    # Counts only of PHI columns: the read touches none of their values.
    scope.check_reads(
        connections.engine,
        [PhiRead(name, phi_columns, [])],
        action=audit.Action.DATASET_PROFILE,
        resource=f"/api/v1/datasets/{name}/profile",
    )
    with connections.engine.connect() as connection:
        return profiles.stored_profile(connection, name)
