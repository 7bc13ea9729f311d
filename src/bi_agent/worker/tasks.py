"""The Celery tasks, named as users see them. Each is thin: it calls one domain function.

Bad input (InvalidInputError, NotFoundError and the rest of the domain's errors) fails the
task at once with the domain's message; only a lost connection to PostgreSQL, Redis or S3
is retried, with exponential backoff.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any

import psycopg
from botocore.exceptions import BotoCoreError, EndpointConnectionError
from celery import Task, shared_task
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import OperationalError

from bi_agent.catalog import cleaning, deidentification, kpis, profiles, rollups
from bi_agent.catalog.files import OnError
from bi_agent.catalog.imports import ImportRequest, run_import
from bi_agent.errors import InvalidInputError
from bi_agent.infra.connections import Connections
from bi_agent.settings import get_settings

logger = logging.getLogger(__name__)

# SQLAlchemy's OperationalError wraps a lost connection; COPY and the pipelines speak
# psycopg directly, whose own OperationalError is the same loss unwrapped.
TRANSIENT_ERRORS = (
    OperationalError,
    psycopg.OperationalError,
    RedisConnectionError,
    RedisTimeoutError,
    EndpointConnectionError,
    BotoCoreError,
)
# Exponential backoff up to five minutes, five times: long enough to ride out a restart.
RETRY_TRANSIENT: dict[str, Any] = {
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": 5,
}
# The pipelines of process_data, as the jobs route offers them.
PIPELINES = ("profile", "clean", "deidentify")
# Progress is written to Redis at most this often, so a fast import is not slowed by it.
PROGRESS_INTERVAL_SECONDS = 0.5


@cache
def connections() -> Connections:
    """This worker process's connections, opened on first use (after the pool forked)."""
    return Connections.open(get_settings())


@shared_task(  # type: ignore[untyped-decorator]
    name="import_data",
    bind=True,
    **RETRY_TRANSIENT,
)
def import_data(self: Task, request: dict[str, Any]) -> dict[str, Any]:
    """Import a file waiting in bucket `datasets` into a dataset."""
    settings = get_settings()
    last_report = 0.0

    def report(stage: str, done: int, total: int) -> None:
        nonlocal last_report
        now = time.monotonic()
        if now - last_report < PROGRESS_INTERVAL_SECONDS and done < total:
            return
        last_report = now
        percent = round(100 * done / total, 1) if total else 100.0
        self.update_state(state="PROGRESS", meta={"stage": stage, "done": done, "total": total, "percent": percent})

    import_request = ImportRequest(
        dataset=request["dataset"],
        object_key=request["object_key"],
        sha256=request["sha256"],
        filename=request["filename"],
        size_bytes=int(request["size_bytes"]),
        mode=request["mode"],
        on_error=OnError(request.get("on_error", "fail")),
        user_id=uuid.UUID(request["user_id"]) if request.get("user_id") else None,
        job_id=self.request.id,
    )
    outcome = run_import(
        connections().engine,
        connections().s3,
        settings.minio_bucket_datasets,
        import_request,
        max_field_bytes=settings.import_max_field_bytes,
        timezone=settings.reporting_timezone,
        detect_phi=settings.hipaa_mode,
        progress=report,
    )
    if not outcome.duplicate:
        refresh_analytics_views.delay(outcome.dataset)
    return outcome.as_dict()


@shared_task(  # type: ignore[untyped-decorator]
    name="refresh_analytics_views",
    **RETRY_TRANSIENT,
)
def refresh_analytics_views(dataset: str | None = None) -> dict[str, Any]:
    """Refresh the stale rollups of one dataset, or of all; then the KPIs follow."""
    refreshed = rollups.refresh_stale(connections().engine, dataset)
    calculate_kpis.delay()
    return {"refreshed": refreshed}


@shared_task(  # type: ignore[untyped-decorator]
    name="calculate_kpis",
    **RETRY_TRANSIENT,
)
def calculate_kpis() -> dict[str, Any]:
    """Store every metric's current-against-previous value at every grain (upserted by period)."""
    settings = get_settings()
    stored = kpis.calculate_all(connections().engine, datetime.now(UTC).date(), settings.reporting_timezone)
    return {"snapshots": stored}


@shared_task(name="update_ml_models", **RETRY_TRANSIENT)  # type: ignore[untyped-decorator]
def update_ml_models() -> dict[str, Any]:
    """Retrain models whose dataset changed since their training: the ML service brings them."""
    logger.info("update_ml_models: no model registry yet, so nothing to retrain")
    return {"retrained": [], "reason": "no model registry yet"}


@shared_task(name="process_data", **RETRY_TRANSIENT)  # type: ignore[untyped-decorator]
def process_data(dataset: str, pipeline: str, user_id: str | None = None) -> dict[str, Any]:
    """Run a data pipeline on a dataset: `profile`; `clean`, which rewrites it in place; or
    `deidentify`, which writes its Safe Harbor copy `<dataset>_deid`. What a pipeline changed
    gets its rollups refreshed and the KPIs computed again, as after an import."""
    if pipeline not in PIPELINES:
        raise InvalidInputError(f"unknown pipeline {pipeline!r}; process_data runs: {', '.join(PIPELINES)}")
    engine = connections().engine
    timezone = get_settings().reporting_timezone
    if pipeline == "profile":
        profile = profiles.compute_profile(engine, dataset)
        return {"dataset": dataset, "pipeline": pipeline, "data_version": profile["data_version"]}
    if pipeline == "clean":
        cleaned = cleaning.clean_dataset(engine, dataset, timezone=timezone)
        if cleaned.changed:
            refresh_analytics_views.delay(dataset)
        return {"pipeline": pipeline, **cleaned.as_dict()}
    copy = deidentification.deidentify_dataset(
        engine, dataset, timezone=timezone, user_id=uuid.UUID(user_id) if user_id else None
    )
    refresh_analytics_views.delay(copy.dataset)
    return {"pipeline": pipeline, **copy.as_dict()}
