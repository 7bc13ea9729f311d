"""Datasets: upload a file into one, read its schema, rows and import history, change or drop it."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from bi_agent.catalog import datasets, profiles, row_policies
from bi_agent.catalog.columns import ColumnSpec, Role
from bi_agent.catalog.files import OnError
from bi_agent.catalog.imports import check_file, find_earlier_import
from bi_agent.catalog.names import check_identifier
from bi_agent.catalog.query_spec import Filter
from bi_agent.errors import PayloadTooLargeError, PermissionDeniedError
from bi_agent.http.audit_context import request_info
from bi_agent.http.auth import ConnectionsDep, require
from bi_agent.http.pages import Page, PageDep, paging
from bi_agent.http.request_bounds import BodyLimit
from bi_agent.infra import jobs
from bi_agent.infra.connections import Connections
from bi_agent.security import audit
from bi_agent.security.permissions import Permission, Principal
from bi_agent.security.phi_access import check_phi_read
from bi_agent.settings import Settings

router = APIRouter(prefix="/datasets", tags=["datasets"])

CanRead = Annotated[Principal, require(Permission.DATASETS_READ)]
CanWrite = Annotated[Principal, require(Permission.DATASETS_WRITE)]
CHUNK_BYTES = 1 << 20
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


class ColumnOut(BaseModel):
    name: str
    source_name: str
    type: str
    role: Role
    phi: bool


def _column_out(column: ColumnSpec) -> ColumnOut:
    return ColumnOut(
        name=column.name, source_name=column.source_name, type=column.data_type, role=column.role, phi=column.phi
    )


@router.post("", status_code=202, summary="Upload a file into a dataset")
def upload(
    principal: CanWrite,
    connections: ConnectionsDep,
    file: Annotated[UploadFile, File(description="CSV, Parquet or JSON Lines; .gz accepted")],
    name: Annotated[str, Form(description="Dataset name: a plain identifier")],
    mode: Annotated[Literal["append", "replace"], Form()] = "append",
    on_error: Annotated[OnError, Form(description="fail: refuse a file with a bad row; skip: count them")] = (
        OnError.FAIL
    ),
) -> JSONResponse:
    """Check the whole file now (a bad one gets a 422 naming line and column), keep the original
    in bucket `datasets` under its SHA-256, and queue `import_data`. A file this dataset already
    imported adds nothing: the reply points at the earlier import."""
    settings = connections.settings
    check_identifier(name, "dataset name")
    filename = Path(file.filename or "upload").name
    with tempfile.TemporaryDirectory(prefix="bi-agent-upload-") as folder:
        path = Path(folder) / "upload"
        sha256, size = _save(file, path, settings.import_max_upload_mb << 20, filename)
        with connections.engine.connect() as connection:
            earlier = find_earlier_import(connection, name, sha256)
        if earlier is not None:
            return JSONResponse(
                {"dataset": name, "job_id": None, "duplicate": True, "import": earlier.as_dict()}, status_code=200
            )
        # Checked as a stream, keeping no rows: the worker reads the file again to load it.
        parsed, _, _ = check_file(
            connections.engine,
            path,
            filename,
            name,
            mode,
            on_error,
            settings.import_max_field_bytes,
            max_uncompressed_bytes=settings.import_max_uncompressed_mb << 20,
            keep_rows=False,
        )
        connections.s3.upload_file(
            str(path), settings.minio_bucket_datasets, sha256, ExtraArgs={"Metadata": {"filename": filename[:200]}}
        )
    request = {
        "dataset": name,
        "object_key": sha256,
        "sha256": sha256,
        "filename": filename,
        "size_bytes": size,
        "mode": mode,
        "on_error": on_error.value,
        "user_id": str(principal.user_id),
    }
    summary = {"dataset": name, "filename": filename, "mode": mode, "rows": parsed.num_rows}
    with connections.engine.begin() as connection:
        job_id = jobs.submit(connections.celery, connection, "import_data", [request], summary, principal.user_id)
    return JSONResponse(
        {"dataset": name, "job_id": job_id, "duplicate": False, "status_url": f"/api/v1/jobs/{job_id}"},
        status_code=202,
    )


def _save(upload: UploadFile, path: Path, limit: int, filename: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("wb") as target:
        while chunk := upload.file.read(CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(
                    f"{filename}: larger than the {limit >> 20} MB upload limit (IMPORT_MAX_UPLOAD_MB)"
                )
            digest.update(chunk)
            target.write(chunk)
    return digest.hexdigest(), size


@router.get("", summary="List datasets")
def list_datasets(
    principal: CanRead,
    connections: ConnectionsDep,
    page: PageDep,
) -> dict[str, Any]:
    """Datasets by name, with row count and data version. Under a row policy, `row_count` is
    the rows the caller may see, and `row_policy` is true."""
    with connections.engine.connect() as connection:
        items, total = datasets.list_datasets(connection, page.limit, page.offset)
        limited = row_policies.restricted_datasets(connection, principal.roles)
        counts = {item.name: _visible_rows(connection, principal, item.name) for item in items if item.name in limited}
    return {"items": [_summary(item, counts.get(item.name)) for item in items], "total": total}


def _visible_rows(connection: Connection, principal: Principal, name: str) -> int:
    return datasets.visible_row_count(connection, name, row_policies.filters_for(connection, principal.roles, name))


def _summary(item: datasets.DatasetSummary, visible_rows: int | None = None) -> dict[str, Any]:
    """`visible_rows`: the count under the caller's row policy, which must not learn the whole's."""
    return {
        "name": item.name,
        "description": item.description,
        "row_count": item.row_count if visible_rows is None else visible_rows,
        "row_policy": visible_rows is not None,
        "data_version": item.data_version,
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
    }


@router.get("/{name}", summary="A dataset's schema and import history")
def get_dataset(principal: CanRead, connections: ConnectionsDep, name: str) -> dict[str, Any]:
    """Columns with type, role and PHI flag; row count; data version; the imports, newest first.
    Under a row policy, `row_count` is the rows the caller may see and the imports (whose
    counts are of the whole) are left out."""
    check_identifier(name, "dataset name")
    with connections.engine.connect() as connection:
        summary = datasets.get_dataset(connection, name)
        columns = datasets.get_columns(connection, name)
        limited = name in row_policies.restricted_datasets(connection, principal.roles)
        visible = _visible_rows(connection, principal, name) if limited else None
        history = [] if limited else datasets.import_history(connection, summary.id)
    return {
        **_summary(summary, visible),
        "columns": [_column_out(column).model_dump() for column in columns],
        "imports": [_import_out(record) for record in history],
    }


def _import_out(record: dict[str, Any]) -> dict[str, Any]:
    return {
        key: (value.isoformat() if hasattr(value, "isoformat") else str(value) if key == "id" else value)
        for key, value in record.items()
    }


class ColumnPatch(BaseModel):
    name: str
    role: Role | None = None
    phi: bool | None = None


class ColumnsPatch(BaseModel):
    columns: list[ColumnPatch] = Field(min_length=1)


@router.patch("/{name}/columns", summary="Change columns' roles or PHI flags")
def patch_columns(
    principal: CanWrite, connections: ConnectionsDep, name: str, body: ColumnsPatch
) -> dict[str, list[dict[str, Any]]]:
    """Set `role` (time, dimension, measure) or `phi` per column; PHI flags need `phi:read`."""
    check_identifier(name, "dataset name")
    if any(change.phi is not None for change in body.columns) and not principal.has(Permission.PHI_READ):
        raise PermissionDeniedError("changing PHI flags needs the permission phi:read, which your roles lack")
    changes = [datasets.ColumnChange(change.name, change.role, change.phi) for change in body.columns]
    with connections.engine.begin() as connection:
        columns = datasets.update_columns(connection, name, changes)
    return {"columns": [_column_out(column).model_dump() for column in columns]}


@router.delete("/{name}", status_code=204, summary="Drop a dataset and its rows")
def delete_dataset(principal: CanWrite, connections: ConnectionsDep, name: str) -> Response:
    """Drops the table and the catalog entry; the original files stay in bucket `datasets`."""
    with connections.engine.begin() as connection:
        datasets.delete_dataset(connection, name)
    return Response(status_code=204)


@router.get("/{name}/rows", summary="Preview rows")
def preview(
    request: Request,
    principal: CanRead,
    connections: ConnectionsDep,
    name: str,
    page: Annotated[Page, paging(default_limit=100, max_limit=1000)],
) -> dict[str, Any]:
    """A page of rows in table order, with the column names, within the caller's row policy
    (`total` counts what it lets through). PHI columns are null for a caller without
    `phi:read`, and listed in `masked`. In HIPAA mode a dataset with PHI columns needs the
    header `X-Purpose`, and each read is audited."""
    read = _rows_read(request, principal, connections, name, audit.Action.DATASET_ROWS, "rows")
    with connections.engine.connect() as connection:
        rows = datasets.preview_rows(
            connection, name, page.limit, page.offset, phi_allowed=read.phi_allowed, policy=read.policy
        )
    return {
        "columns": rows.columns,
        "rows": rows.rows,
        "masked": rows.masked,
        "total": rows.total,
        "limit": page.limit,
        "offset": page.offset,
    }


@dataclass(frozen=True)
class _RowsRead:
    phi_allowed: bool
    phi_columns: list[str]
    policy: list[Filter]


def _rows_read(
    request: Request, principal: Principal, connections: Connections, name: str, action: str, route: str
) -> _RowsRead:
    """What a read of the dataset's rows may show the caller (404 for no such dataset); in HIPAA
    mode the read of a dataset with PHI columns needs a purpose and is audited."""
    check_identifier(name, "dataset name")
    phi_allowed = principal.has(Permission.PHI_READ)
    with connections.engine.connect() as connection:
        datasets.get_dataset(connection, name)  # 404 before anything else
        phi_columns = [column.name for column in datasets.get_columns(connection, name) if column.phi]
        policy = row_policies.filters_for(connection, principal.roles, name)
    check_phi_read(
        connections.engine,
        principal,
        request_info(request),
        hipaa_mode=connections.settings.hipaa_mode,
        action=action,
        resource=f"/api/v1/datasets/{name}/{route}",
        dataset=name,
        phi_columns=phi_columns,
        touched=phi_columns if phi_allowed else (),
    )
    return _RowsRead(phi_allowed, phi_columns, policy)


@router.get(
    "/{name}/export",
    summary="Download a dataset's rows as CSV",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The rows, a header line first"}},
)
def export(request: Request, principal: CanRead, connections: ConnectionsDep, name: str) -> StreamingResponse:
    """Every row within the caller's row policy, as CSV: the file's own column names, then each
    value exactly as stored (a code keeps its leading zeros, `0.50` stays `0.50`; times in UTC).
    PHI columns are empty for a caller without `phi:read`, and named in `X-Masked-Columns`. In
    HIPAA mode a dataset with PHI columns needs the header `X-Purpose`, and each export is audited."""
    read = _rows_read(request, principal, connections, name, audit.Action.EXPORT, "export")

    def rows() -> Iterator[bytes]:
        with connections.engine.begin() as connection:
            yield from datasets.export_csv(connection, name, phi_allowed=read.phi_allowed, policy=read.policy)

    masked = [] if read.phi_allowed else read.phi_columns
    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"',
            "X-Masked-Columns": ",".join(masked),
        },
    )


@router.get("/{name}/profile", summary="A dataset's profile")
def get_profile(request: Request, principal: CanRead, connections: ConnectionsDep, name: str) -> dict[str, Any]:
    """Per column: nulls, distinct, min, max and a histogram, as of the profile's data version
    (`stale` when newer data has arrived). PHI columns show counts only. A profile covers every
    row, so a caller whom a row policy limits on this dataset gets 403."""
    check_identifier(name, "dataset name")
    with connections.engine.connect() as connection:
        if name in row_policies.restricted_datasets(connection, principal.roles):
            raise PermissionDeniedError(
                f"a row policy limits what your roles see of dataset {name}; its profile covers every row"
            )
        phi_columns = [column.name for column in datasets.get_columns(connection, name) if column.phi]
    check_phi_read(
        connections.engine,
        principal,
        request_info(request),
        hipaa_mode=connections.settings.hipaa_mode,
        action="dataset.profile",
        resource=f"/api/v1/datasets/{name}/profile",
        dataset=name,
        phi_columns=phi_columns,
    )
    with connections.engine.connect() as connection:
        return profiles.stored_profile(connection, name)
