"""Importing a file into a dataset: one function, reached from the API's task, the CLI and tests.

The file waits in bucket `datasets` under its SHA-256. It is read and checked whole
(pyarrow), then streamed with COPY, and everything else happens in one transaction:
a new or replaced dataset is loaded into a staging table that is swapped in by
rename; an append goes straight into the table, which the transaction keeps intact
if anything fails. The import record (unique per dataset and SHA-256) and the bump of
`data_version` commit with the rows, so a re-sent file adds nothing and a bad file
leaves nothing behind.

The lock and the swap of a staging table are shared with the pipelines that rewrite a
dataset in PostgreSQL (cleaning, de-identification), so every writer of a dataset
takes the same lock and leaves the catalog and the rollups in the same state.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from botocore.exceptions import ClientError
from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.dataclasses import dataclass as checked_dataclass
from sqlalchemy import Connection, Engine, text

from bi_agent.catalog import datasets, metrics, rollups
from bi_agent.catalog.columns import ARROW_TYPES, NUMBER_TYPES, WIDENINGS, ColumnSpec, default_role
from bi_agent.catalog.files import OnError, ParsedFile, read_file
from bi_agent.catalog.names import check_identifier
from bi_agent.catalog.phi import SAMPLE_SIZE, phi_reason
from bi_agent.errors import ConflictError, InvalidInputError, NotFoundError, PayloadTooLargeError
from bi_agent.infra import jobs
from bi_agent.infra.connections import Connections
from bi_agent.infra.db import psycopg_connection
from bi_agent.infra.jobs import JobAccepted
from bi_agent.infra.telemetry import ROWS_IMPORTED
from bi_agent.progress import Progress, no_progress

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Mode = Literal["append", "replace"]
# Rows per COPY chunk: large enough to keep COPY busy, small enough for steady progress.
COPY_BATCH_ROWS = 50_000
HASH_CHUNK_BYTES = 4 << 20
UPLOAD_CHUNK_BYTES = 1 << 20


# A dataclass checked by pydantic, so callers may still pass its fields by position.
@checked_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class ImportRequest:
    """An import to run: the argument of task `import_data`, sent across Celery as JSON
    (`IMPORT_REQUEST.dump_python(request, mode="json")`) and checked again in the task."""

    dataset: str
    object_key: str
    sha256: str
    filename: str
    size_bytes: int
    mode: Mode
    on_error: OnError = OnError.FAIL
    user_id: uuid.UUID | None = None


IMPORT_REQUEST = TypeAdapter(ImportRequest)


class ImportOutcome(BaseModel):
    """What an import did: task `import_data`'s result, and the earlier import a re-sent file points at."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    import_id: uuid.UUID
    dataset: str
    rows_imported: int
    rows_skipped: int = Field(description="Bad rows left out (on_error=skip)")
    data_version: int = Field(description="The dataset's data version once the import committed")
    duplicate: bool = Field(description="true: the dataset had imported this file before, nothing was added")


class ImportQueued(JobAccepted):
    """An upload checked and kept; job `import_data` loads it."""

    dataset: str
    duplicate: Literal[False] = Field(description="false: the file is new to this dataset")


class EarlierImport(BaseModel):
    """An upload the dataset imported before, byte for byte: nothing is added."""

    model_config = ConfigDict(populate_by_name=True)

    dataset: str
    job_id: None = Field(description="No job: there is nothing to import")
    duplicate: Literal[True]
    earlier: ImportOutcome = Field(alias="import", description="The import that loaded the file")


def queue_upload(
    connections: Connections,
    source: BinaryIO,
    filename: str,
    dataset: str,
    mode: Mode,
    on_error: OnError,
    user_id: uuid.UUID,
) -> ImportQueued | EarlierImport:
    """The API's import: check the whole file now (InvalidInputError naming line and column),
    keep the original in bucket `datasets` under its SHA-256, and queue `import_data` with its
    ImportRequest. A file the dataset imported before is not queued again."""
    settings = connections.settings
    check_identifier(dataset, "dataset name")
    with tempfile.TemporaryDirectory(prefix="bi-agent-upload-") as folder:
        path = Path(folder) / "upload"
        sha256, size = _save(source, path, settings.import_max_upload_mb << 20, filename)
        with connections.engine.connect() as connection:
            earlier = find_earlier_import(connection, dataset, sha256)
        if earlier is not None:
            return EarlierImport(dataset=dataset, job_id=None, duplicate=True, earlier=earlier)
        # Checked as a stream, keeping no rows: the worker reads the file again to load it.
        parsed, _, _ = check_file(
            connections.engine,
            path,
            filename,
            dataset,
            mode,
            on_error,
            settings.import_max_field_bytes,
            max_uncompressed_bytes=settings.import_max_uncompressed_mb << 20,
            keep_rows=False,
        )
        connections.s3.upload_file(
            str(path), settings.minio_bucket_datasets, sha256, ExtraArgs={"Metadata": {"filename": filename[:200]}}
        )
    request = ImportRequest(
        dataset=dataset,
        object_key=sha256,
        sha256=sha256,
        filename=filename,
        size_bytes=size,
        mode=mode,
        on_error=on_error,
        user_id=user_id,
    )
    summary = {"dataset": dataset, "filename": filename, "mode": mode, "rows": parsed.num_rows}
    message = IMPORT_REQUEST.dump_python(request, mode="json")
    with connections.engine.begin() as connection:
        job_id = jobs.submit(connections.celery, connection, "import_data", [message], summary, user_id)
    return ImportQueued(dataset=dataset, job_id=job_id, status_url=jobs.status_url(job_id), duplicate=False)


def _save(source: BinaryIO, path: Path, limit: int, filename: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("wb") as target:
        while chunk := source.read(UPLOAD_CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(
                    f"{filename}: larger than the {limit >> 20} MB upload limit (IMPORT_MAX_UPLOAD_MB)"
                )
            digest.update(chunk)
            target.write(chunk)
    return digest.hexdigest(), size


def find_earlier_import(connection: Connection, dataset: str, sha256: str) -> ImportOutcome | None:
    row = connection.execute(
        text(
            "SELECT i.id, i.rows_imported, i.rows_skipped, i.data_version FROM bi.imports i "
            "JOIN bi.datasets d ON d.id = i.dataset_id WHERE d.name = :dataset AND i.sha256 = :sha256"
        ),
        {"dataset": dataset, "sha256": sha256},
    ).first()
    if row is None:
        return None
    return ImportOutcome(
        import_id=row.id,
        dataset=dataset,
        rows_imported=row.rows_imported,
        rows_skipped=row.rows_skipped,
        data_version=row.data_version,
        duplicate=True,
    )


def check_file(
    engine: Engine,
    path: Path,
    filename: str,
    dataset: str,
    mode: Mode,
    on_error: OnError,
    max_field_bytes: int,
    *,
    max_uncompressed_bytes: int,
    detect_phi: bool = False,
    keep_rows: bool = True,
) -> tuple[ParsedFile, list[ColumnSpec], list[ColumnSpec] | None]:
    """Read and check a file for an import into `dataset`: the rows, their columns, and the
    dataset's columns when the file is appended to it. Raises InvalidInputError saying why not
    (PayloadTooLargeError for gzip data that expands past `max_uncompressed_bytes`). With
    `detect_phi` (HIPAA mode), columns whose names or values look like PHI come flagged.
    Without `keep_rows` the rows are checked as they stream by and not kept (the API's check)."""
    check_identifier(dataset, "dataset name")
    with engine.connect() as connection:
        existing = datasets.find_columns(connection, dataset)
    appending = existing if mode == "append" and existing is not None else None
    # A number column is read as text, as a new file's are, so its values reach it as written.
    pinned = (
        {column.name: pa.string() if column.data_type in NUMBER_TYPES else ARROW_TYPES[column.data_type]
         for column in appending}
        if appending
        else None
    )  # fmt: skip
    parsed = read_file(
        path,
        filename,
        on_error=on_error,
        max_field_bytes=max_field_bytes,
        max_uncompressed_bytes=max_uncompressed_bytes,
        column_types=pinned,
        keep_rows=keep_rows,
    )
    specs = _column_specs(parsed, filename, detect_phi=detect_phi)
    if appending is not None:
        _check_append_schema(appending, specs, filename)
    return parsed, specs, appending


def run_import(
    engine: Engine,
    s3: S3Client,
    bucket: str,
    request: ImportRequest,
    *,
    max_field_bytes: int,
    max_uncompressed_bytes: int,
    timezone: str = "UTC",
    detect_phi: bool = False,
    progress: Progress = no_progress,
    job_id: str | None = None,
) -> ImportOutcome:
    """Import the file `request` names; `job_id` is the job that runs it, kept in the import record."""
    check_identifier(request.dataset, "dataset name")
    with engine.connect() as connection:
        earlier = find_earlier_import(connection, request.dataset, request.sha256)
    if earlier is not None:
        return earlier
    started_at = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="bi-agent-import-") as folder:
        path = Path(folder) / "upload"
        progress("download", 0, request.size_bytes)
        _download(s3, bucket, request, path)
        progress("parse", request.size_bytes, request.size_bytes)
        parsed, specs, existing = check_file(
            engine,
            path,
            request.filename,
            request.dataset,
            request.mode,
            request.on_error,
            max_field_bytes,
            max_uncompressed_bytes=max_uncompressed_bytes,
            detect_phi=detect_phi,
        )
    return _load(engine, request, parsed, specs, existing, started_at, timezone, progress, job_id=job_id)


def _download(s3: S3Client, bucket: str, request: ImportRequest, path: Path) -> None:
    try:
        s3.download_file(bucket, request.object_key, str(path))
    except ClientError as error:
        # Only a missing file is final; any other refusal (a lost connection is a BotoCoreError)
        # propagates and the worker retries it.
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey"):
            raise
        raise NotFoundError(
            f"{request.filename}: the uploaded file is no longer in bucket {bucket} (key {request.object_key}); "
            "upload it again"
        ) from None


def import_local_file(
    engine: Engine,
    s3: S3Client,
    bucket: str,
    path: Path,
    dataset: str,
    mode: Mode,
    *,
    on_error: OnError = OnError.FAIL,
    user_id: uuid.UUID | None = None,
    max_field_bytes: int,
    max_uncompressed_bytes: int,
    timezone: str = "UTC",
    detect_phi: bool = False,
    progress: Progress = no_progress,
) -> ImportOutcome:
    """Import a file on this machine (the CLI's path): the original goes to S3 while the rows
    are copied, and the import commits only once the original is safely stored."""
    check_identifier(dataset, "dataset name")
    size = path.stat().st_size
    sha256 = _file_sha256(path, size, progress)
    with engine.connect() as connection:
        earlier = find_earlier_import(connection, dataset, sha256)
    if earlier is not None:
        return earlier
    request = ImportRequest(
        dataset=dataset,
        object_key=sha256,
        sha256=sha256,
        filename=path.name,
        size_bytes=size,
        mode=mode,
        on_error=on_error,
        user_id=user_id,
    )
    started_at = datetime.now(UTC)
    parsed, specs, existing = check_file(
        engine,
        path,
        path.name,
        dataset,
        mode,
        on_error,
        max_field_bytes,
        max_uncompressed_bytes=max_uncompressed_bytes,
        detect_phi=detect_phi,
    )
    # The upload starts once the file is read: reading keeps both cores busy, while during
    # COPY this process mostly waits on PostgreSQL and the upload has a core to itself.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="s3-upload") as uploader:
        upload = uploader.submit(
            s3.upload_file, str(path), bucket, sha256, ExtraArgs={"Metadata": {"filename": path.name[:200]}}
        )
        return _load(
            engine, request, parsed, specs, existing, started_at, timezone, progress, before_commit=upload.result
        )


def _file_sha256(path: Path, size: int, progress: Progress) -> str:
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as source:
        while chunk := source.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
            done += len(chunk)
            progress("hash", done, size)
    return digest.hexdigest()


def _load(
    engine: Engine,
    request: ImportRequest,
    parsed: ParsedFile,
    specs: list[ColumnSpec],
    existing: list[ColumnSpec] | None,
    started_at: datetime,
    timezone: str,
    progress: Progress,
    before_commit: Callable[[], object] | None = None,
    job_id: str | None = None,
) -> ImportOutcome:
    with engine.begin() as connection:
        lock_dataset(connection, request.dataset)
        earlier = find_earlier_import(connection, request.dataset, request.sha256)
        if earlier is not None:
            return earlier
        if existing is not None and _shape(datasets.find_columns(connection, request.dataset)) != _shape(existing):
            raise ConflictError(f"dataset {request.dataset} changed while {request.filename} was read; send it again")
        connection.execute(text("SET LOCAL TimeZone = 'UTC'"))
        if existing is not None:
            _copy(connection, request.dataset, existing, parsed.rows, progress)
            dataset_id, data_version = datasets.record_append(connection, request.dataset, parsed.num_rows)
        else:
            check_metrics_fit(connection, request.dataset, specs, request.filename)
            staging = staging_table_name()
            _create_table(connection, staging, specs)
            _copy(connection, staging, specs, parsed.rows, progress)
            dataset_id, data_version = replace_from_staging(
                connection, request.dataset, staging, specs, parsed.num_rows, request.user_id, timezone
            )
        import_id = datasets.record_import(
            connection,
            dataset_id=dataset_id,
            request_fields={
                "sha256": request.sha256,
                "object_key": request.object_key,
                "filename": request.filename,
                "file_format": parsed.kind.format.value + (".gz" if parsed.kind.gzipped else ""),
                "size_bytes": request.size_bytes,
                "mode": request.mode,
                "rows_imported": parsed.num_rows,
                "rows_skipped": parsed.rows_skipped,
                "skipped_sample": parsed.skipped_sample,
                "column_mapping": parsed.mapping,
                "data_version": data_version,
                "job_id": job_id,
                "imported_by": request.user_id,
                "started_at": started_at,
            },
        )
        if before_commit is not None:
            before_commit()
    ROWS_IMPORTED.inc(parsed.num_rows)
    progress("done", parsed.num_rows, parsed.num_rows)
    return ImportOutcome(
        import_id=import_id,
        dataset=request.dataset,
        rows_imported=parsed.num_rows,
        rows_skipped=parsed.rows_skipped,
        data_version=data_version,
        duplicate=False,
    )


def lock_dataset(connection: Connection, name: str) -> None:
    """One writer per dataset at a time, until the transaction ends; the second waits and then
    sees what the first committed."""
    connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('bi-agent:dataset:' || :name))"), {"name": name})


def staging_table_name() -> str:
    return f"_staging_{uuid.uuid4().hex[:16]}"


def replace_from_staging(
    connection: Connection,
    dataset: str,
    staging: str,
    specs: list[ColumnSpec],
    row_count: int,
    user_id: uuid.UUID | None,
    timezone: str,
    *,
    keep_flags: bool = True,
) -> tuple[uuid.UUID, int]:
    """Make the filled table `analytics.<staging>` the dataset, created or replaced, inside the
    caller's transaction (which holds the dataset's lock): the catalog entry with `specs` and a
    new data_version, and the rollups built again. Returns the dataset's id and data_version."""
    _swap_in(connection, staging, dataset)
    dataset_id, data_version = datasets.record_replace(
        connection, dataset, specs, row_count, user_id, keep_flags=keep_flags
    )
    rollups.sync(connection, dataset, timezone, rebuild=True)
    return dataset_id, data_version


def check_metrics_fit(connection: Connection, dataset: str, specs: list[ColumnSpec], source: str) -> None:
    """A replacement must still answer the dataset's metrics; say which ones it would break.
    `source` names what would replace it (a file name, a pipeline) at the start of the message."""
    broken = []
    for metric in metrics.metrics_of_dataset(connection, dataset):
        definition = metrics.MetricDefinition(
            name=metric.name,
            dataset=dataset,
            aggregation=metric.aggregation,
            column=metric.column,
            time_column=metric.time_column,
            dimensions=list(metric.dimensions),
            filters=list(metric.filters),
        )
        try:
            metrics.check_definition(definition, specs)
        except InvalidInputError as error:
            broken.append(f"metric {metric.name} ({error})")
    if broken:
        raise InvalidInputError(f"{source}: cannot replace {dataset}: it would break {'; '.join(broken)}")


def _shape(columns: list[ColumnSpec] | None) -> list[tuple[str, str]]:
    return [(column.name, column.data_type) for column in columns or []]


def _column_specs(parsed: ParsedFile, filename: str, *, detect_phi: bool) -> list[ColumnSpec]:
    source_names = {name: header for header, name in parsed.mapping.items()}
    specs = []
    for field in parsed.head.schema:
        data_type = parsed.data_types[field.name]
        source = source_names.get(field.name, field.name)
        phi = False
        if detect_phi:
            sample = parsed.head.column(field.name).slice(0, SAMPLE_SIZE).to_pylist() if data_type == "text" else []
            phi = phi_reason(field.name, sample) is not None or phi_reason(source) is not None
        specs.append(ColumnSpec(field.name, source, data_type, default_role(data_type), phi))
    return specs


def _check_append_schema(existing: list[ColumnSpec], incoming: list[ColumnSpec], filename: str) -> None:
    have = {column.name: column for column in existing}
    got = {column.name: column for column in incoming}
    missing = [name for name in have if name not in got]
    extra = [name for name in got if name not in have]
    problems = []
    if missing:
        problems.append(f"missing columns {', '.join(missing)}")
    if extra:
        problems.append(f"columns not in the dataset {', '.join(extra)}")
    for name, column in got.items():
        target = have.get(name)
        if target is None or column.data_type == target.data_type:
            continue
        if column.data_type not in WIDENINGS.get(target.data_type, set()):
            problems.append(f"column {name} is {column.data_type} in the file but {target.data_type} in the dataset")
    if problems:
        raise InvalidInputError(f"{filename}: cannot append: {'; '.join(problems)}")


def _create_table(connection: Connection, table: str, specs: list[ColumnSpec]) -> None:
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(spec.name), sql.SQL(spec.data_type)) for spec in specs
    )
    statement = sql.SQL("CREATE TABLE {}.{} ({})").format(sql.Identifier("analytics"), sql.Identifier(table), columns)
    psycopg_connection(connection).execute(statement)


def _swap_in(connection: Connection, staging: str, table: str) -> None:
    raw = psycopg_connection(connection)
    # CASCADE takes the dataset's rollup views along; the caller builds them again.
    raw.execute(
        sql.SQL("DROP TABLE IF EXISTS {}.{} CASCADE").format(sql.Identifier("analytics"), sql.Identifier(table))
    )
    raw.execute(
        sql.SQL("ALTER TABLE {}.{} RENAME TO {}").format(
            sql.Identifier("analytics"), sql.Identifier(staging), sql.Identifier(table)
        )
    )


def _copy(connection: Connection, table: str, specs: list[ColumnSpec], rows: pa.Table, progress: Progress) -> None:
    names = [spec.name for spec in specs]
    statement = sql.SQL("COPY {}.{} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier("analytics"), sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    ordered = rows.select(names)
    total = ordered.num_rows
    done = 0
    options = pa_csv.WriteOptions(include_header=False)
    try:
        with psycopg_connection(connection).cursor() as cursor, cursor.copy(statement) as copy:
            for batch in ordered.to_batches(max_chunksize=COPY_BATCH_ROWS):
                buffer = io.BytesIO()
                pa_csv.write_csv(batch, buffer, options)
                copy.write(buffer.getbuffer())
                done += batch.num_rows
                progress("copy", done, total)
    except psycopg.errors.DataError as error:
        # PostgreSQL refused a value Arrow accepted; name the column, not the value.
        diagnostic = error.diag.context or ""
        raise InvalidInputError(f"a value could not be stored: {diagnostic.split(':')[0] or error.sqlstate}") from None
