"""The analytics jobs: what a user may start from `POST /api/v1/jobs`, what each task returns
as its job's `result`, and a job as `GET /api/v1/jobs/{id}` shows it.

Each analytics task returns its result model dumped to JSON; reading a job back validates
that JSON as the model of the job's task (and of its pipeline, for process_data). The
results of tasks defined elsewhere (training, retraining) are shown as they were stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy import Connection

from bi_agent.catalog import datasets, deidentification
from bi_agent.catalog.cleaning import CleaningOutcome
from bi_agent.catalog.deidentification import DeidentificationOutcome
from bi_agent.catalog.imports import ImportOutcome
from bi_agent.catalog.names import check_identifier
from bi_agent.errors import InvalidInputError, PermissionDeniedError
from bi_agent.infra import jobs
from bi_agent.infra.jobs import Celery, JobAccepted, JobStateName
from bi_agent.security.permissions import Permission, Principal

Pipeline = Literal["profile", "clean", "deidentify"]
# The pipelines of process_data, as the jobs route offers them.
PIPELINES: tuple[Pipeline, ...] = ("profile", "clean", "deidentify")


class JobArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str | None = Field(
        default=None,
        description="refresh_analytics_views: only this dataset (all when omitted); process_data: required",
    )
    pipeline: Pipeline | None = Field(
        default=None,
        description="process_data: `profile`; `clean` (trims text, drops duplicate rows, types numbers and dates "
        "stored as text; needs datasets:write); `deidentify` (writes the HIPAA Safe Harbor copy `<dataset>_deid`; "
        "needs datasets:write and phi:read)",
    )


class JobRequest(BaseModel):
    """Work to start now. Imports start from `POST /api/v1/datasets`, which checks the file first."""

    model_config = ConfigDict(extra="forbid")

    task: Literal["refresh_analytics_views", "calculate_kpis", "process_data"]
    args: JobArguments = Field(default_factory=JobArguments)


def start_job(celery: Celery, connection: Connection, request: JobRequest, principal: Principal) -> JobAccepted:
    """Queue the task for `principal`, refusing what it would not take (422 naming the argument),
    what the caller may not do (403 naming the permission) and a dataset that does not exist (404)."""
    arguments = _task_arguments(request, principal)
    dataset = request.args.dataset
    if dataset is not None:
        check_identifier(dataset, "dataset name")
        datasets.get_dataset(connection, dataset)
    job_id = jobs.submit(celery, connection, request.task, arguments, request.args.model_dump(), principal.user_id)
    return JobAccepted.of(job_id)


def _task_arguments(request: JobRequest, principal: Principal) -> list[Any]:
    dataset, pipeline = request.args.dataset, request.args.pipeline
    if request.task == "calculate_kpis":
        if dataset is not None or pipeline is not None:
            raise InvalidInputError("calculate_kpis takes no arguments: it computes every metric's KPIs")
        return []
    if request.task == "process_data":
        if dataset is None or pipeline is None:
            raise InvalidInputError("process_data needs args.dataset and args.pipeline (profile, clean or deidentify)")
        _check_pipeline_permissions(principal, pipeline)
        if pipeline == "deidentify":
            deidentification.deidentified_name(dataset)
        return [dataset, pipeline, str(principal.user_id)]
    if pipeline is not None:
        raise InvalidInputError("refresh_analytics_views takes no pipeline")
    return [dataset]


def _check_pipeline_permissions(principal: Principal, pipeline: str) -> None:
    """`clean` rewrites a dataset and `deidentify` writes one, from PHI it reads."""
    if pipeline == "profile":
        return
    if not principal.has(Permission.DATASETS_WRITE):
        raise PermissionDeniedError(
            f"the {pipeline} pipeline writes a dataset: it needs the permission datasets:write, which your roles lack"
        )
    if pipeline == "deidentify" and not principal.has(Permission.PHI_READ):
        raise PermissionDeniedError(
            "the deidentify pipeline reads PHI: it needs the permission phi:read, which your roles lack"
        )


class RefreshedRollup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str
    time_column: str
    grain: str
    data_version: int = Field(description="The data version the rollup now holds")


class RefreshResult(BaseModel):
    """refresh_analytics_views' result."""

    model_config = ConfigDict(extra="forbid")

    refreshed: list[RefreshedRollup] = Field(description="Each stale rollup refreshed")


class KpiResult(BaseModel):
    """calculate_kpis' result."""

    model_config = ConfigDict(extra="forbid")

    snapshots: int = Field(description="KPI values stored, one per metric, grain and period")
    failed: list[str] = Field(description="The metrics whose KPIs could not be calculated (their cards say why)")


class ProfileResult(BaseModel):
    """process_data's result for the profile pipeline; the profile is read at the dataset's profile route."""

    model_config = ConfigDict(extra="forbid")

    pipeline: Literal["profile"]
    dataset: str
    data_version: int = Field(description="The data version the profile describes")


class CleaningResult(CleaningOutcome):
    """process_data's result for the clean pipeline."""

    pipeline: Literal["clean"]


class DeidentificationResult(DeidentificationOutcome):
    """process_data's result for the deidentify pipeline."""

    pipeline: Literal["deidentify"]


PipelineResult = Annotated[ProfileResult | CleaningResult | DeidentificationResult, Field(discriminator="pipeline")]
# Last, the result of a task of another service (train_model, update_ml_models), as it was stored.
TaskResult = ImportOutcome | RefreshResult | KpiResult | PipelineResult | dict[str, Any]

_RESULTS: dict[str, TypeAdapter[Any]] = {
    "import_data": TypeAdapter(ImportOutcome),
    "refresh_analytics_views": TypeAdapter(RefreshResult),
    "calculate_kpis": TypeAdapter(KpiResult),
    "process_data": TypeAdapter(PipelineResult),
}


def task_result(task: str, result: Any) -> TaskResult:
    """A stored result as its task's model; one of another service's tasks, or one no model of
    its task fits (a worker of another version wrote it), as it was stored."""
    adapter = _RESULTS.get(task)
    if adapter is None:
        return dict(result)
    try:
        typed: TaskResult = adapter.validate_python(result)
    except ValidationError:
        return dict(result)
    return typed


class JobProgress(BaseModel):
    stage: str = Field(description="What the job does now, e.g. download, parse, copy")
    done: int
    total: int
    percent: float


class JobReply(BaseModel):
    """A job as `GET /api/v1/jobs/{id}` shows it."""

    id: str
    task: str
    summary: dict[str, Any] = Field(description="What was asked, as the job was submitted")
    submitted_by: str | None = Field(description="The username; null for jobs beat started")
    submitted_at: datetime
    state: JobStateName | str = Field(description="Celery's state of the job; in practice one of those listed")
    progress: JobProgress | None = Field(description="While the state is PROGRESS")
    result: TaskResult | None = Field(description="After SUCCESS: the task's result")
    error: str | None = Field(description="After FAILURE, and while retrying: what went wrong")

    @classmethod
    def of(cls, status: jobs.JobStatus) -> JobReply:
        return cls(
            id=status.id,
            task=status.task,
            summary=status.summary,
            submitted_by=status.submitted_by,
            submitted_at=status.submitted_at,
            state=status.state,
            progress=None if status.progress is None else JobProgress.model_validate(status.progress),
            result=None if status.result is None else task_result(status.task, status.result),
            error=status.error,
        )


def job_status(celery: Celery, connection: Connection, job_id: str) -> JobReply:
    """404 for an id the ledger never issued."""
    return JobReply.of(jobs.status(celery, connection, job_id))


def recent_jobs(celery: Celery, connection: Connection, limit: int, offset: int) -> tuple[list[JobReply], int]:
    """Newest first, and how many there are in all."""
    items, total = jobs.recent(celery, connection, limit, offset)
    return [JobReply.of(item) for item in items], total
