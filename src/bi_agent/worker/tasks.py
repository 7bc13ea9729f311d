"""The Celery tasks, named as users see them. Each is thin: it calls one domain function.

Every task is a PlatformTask (task_base.py): an outage of PostgreSQL, Redis or S3 is retried
with exponential backoff; bad input (InvalidInputError, NotFoundError and the rest of the
domain's errors) fails the task at once with the domain's message, and any other error fails
it at once told without the value it failed on.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any

from celery import Task, shared_task

from bi_agent.catalog import cleaning, deidentification, kpis, profiles, rollups
from bi_agent.catalog.analytics_jobs import (
    PIPELINES,
    CleaningResult,
    DeidentificationResult,
    KpiResult,
    ProfileResult,
    RefreshResult,
)
from bi_agent.catalog.imports import IMPORT_REQUEST, run_import
from bi_agent.errors import InvalidInputError
from bi_agent.infra.connections import Connections
from bi_agent.progress import Progress, ProgressReport
from bi_agent.settings import get_settings

# Progress is written to Redis at most this often, so a fast import is not slowed by it.
PROGRESS_INTERVAL_SECONDS = 0.5


@cache
def connections() -> Connections:
    """This worker process's connections, opened on first use (after the pool forked)."""
    return Connections.open(get_settings())


def _progress_reporter(task: Task) -> Progress:
    """A progress sink writing state PROGRESS at most every PROGRESS_INTERVAL_SECONDS."""
    last_report = 0.0

    def report(stage: str, done: int, total: int) -> None:
        nonlocal last_report
        now = time.monotonic()
        if now - last_report < PROGRESS_INTERVAL_SECONDS and done < total:
            return
        last_report = now
        task.update_state(state="PROGRESS", meta=ProgressReport.of(stage, done, total).model_dump())

    return report


@shared_task(name="import_data", bind=True)  # type: ignore[untyped-decorator]
def import_data(self: Task, request: dict[str, Any]) -> dict[str, Any]:
    """Import a file waiting in bucket `datasets` into a dataset; `request` is an ImportRequest as JSON."""
    settings = get_settings()
    report = _progress_reporter(self)
    outcome = run_import(
        connections().engine,
        connections().s3,
        settings.minio_bucket_datasets,
        IMPORT_REQUEST.validate_python(request),
        max_field_bytes=settings.import_max_field_bytes,
        max_uncompressed_bytes=settings.import_max_uncompressed_mb << 20,
        timezone=settings.reporting_timezone,
        detect_phi=settings.hipaa_mode,
        progress=report,
        job_id=self.request.id,
    )
    if not outcome.duplicate:
        refresh_analytics_views.delay(outcome.dataset)
    return outcome.model_dump(mode="json")


@shared_task(name="refresh_analytics_views")  # type: ignore[untyped-decorator]
def refresh_analytics_views(dataset: str | None = None) -> dict[str, Any]:
    """Refresh the stale rollups of one dataset, or of all; then the KPIs follow."""
    refreshed = rollups.refresh_stale(connections().engine, dataset)
    calculate_kpis.delay()
    return RefreshResult.model_validate({"refreshed": refreshed}).model_dump(mode="json")


@shared_task(name="calculate_kpis")  # type: ignore[untyped-decorator]
def calculate_kpis() -> dict[str, Any]:
    """Store every metric's current-against-previous value at every grain (upserted by period);
    `failed` names the metrics that could not be calculated (their cards say why)."""
    settings = get_settings()
    run = kpis.calculate_all(connections().engine, datetime.now(UTC).date(), settings.reporting_timezone)
    return KpiResult(snapshots=run.stored, failed=run.failed).model_dump(mode="json")


@shared_task(name="train_model", bind=True)  # type: ignore[untyped-decorator]
def train_model(self: Task, request: dict[str, Any]) -> dict[str, Any]:
    """Train and register a new version of a model; the result is the version with its metrics.

    Safe to retry: the version records this job's id, and a retry that finds it returns it.
    """
    # Imported here: scikit-learn takes seconds to load, and every worker start (recovery of a
    # killed worker's tasks included) would wait for it even with no model to train.
    from bi_agent.ml import training

    report = _progress_reporter(self)
    version = training.train(
        connections().engine,
        connections().s3,
        get_settings().minio_bucket_models,
        training.TrainingRequest.model_validate({**request, "job_id": self.request.id}),
        progress=report,
    )
    return version.model_dump(mode="json")


@shared_task(name="update_ml_models", bind=True)  # type: ignore[untyped-decorator]
def update_ml_models(self: Task) -> dict[str, Any]:
    """Retrain every model whose dataset changed; promote a new version only when it is no worse
    than production on the same held-out rows. The result lists each model's action and reason.

    Safe to retry: a model retrained by the first try is skipped (its data is unchanged since).
    """
    # Imported here for the reason train_model gives.
    from bi_agent.ml import retraining

    settings = get_settings()
    outcomes = retraining.retrain_all(
        connections().engine,
        connections().s3,
        settings.minio_bucket_models,
        job_id=self.request.id,
        progress=_progress_reporter(self),
        hipaa_mode=settings.hipaa_mode,
    )
    return retraining.RetrainingRun(models=outcomes).model_dump(mode="json")


@shared_task(name="process_data")  # type: ignore[untyped-decorator]
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
        return ProfileResult(pipeline="profile", dataset=dataset, data_version=profile["data_version"]).model_dump(
            mode="json"
        )
    if pipeline == "clean":
        cleaned = cleaning.clean_dataset(engine, dataset, timezone=timezone)
        if cleaned.changed:
            refresh_analytics_views.delay(dataset)
        return CleaningResult(pipeline="clean", **cleaned.model_dump()).model_dump(mode="json")
    copy = deidentification.deidentify_dataset(
        engine, dataset, timezone=timezone, user_id=uuid.UUID(user_id) if user_id else None
    )
    refresh_analytics_views.delay(copy.dataset)
    return DeidentificationResult(pipeline="deidentify", **copy.model_dump()).model_dump(mode="json")
