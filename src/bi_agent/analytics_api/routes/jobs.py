"""Jobs: the state, progress and result of background work such as imports."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from bi_agent.catalog import datasets, deidentification
from bi_agent.catalog.names import check_identifier
from bi_agent.errors import InvalidInputError, PermissionDeniedError
from bi_agent.http.auth import ConnectionsDep, require
from bi_agent.http.catalog_catch_up import mark_catalog_changed
from bi_agent.http.pages import Page, paging
from bi_agent.infra import jobs
from bi_agent.security.permissions import Permission, Principal

router = APIRouter(prefix="/jobs", tags=["jobs"])

CanRun = Annotated[Principal, require(Permission.JOBS_RUN)]


@router.get("", summary="Recent jobs")
def list_jobs(
    principal: CanRun,
    connections: ConnectionsDep,
    page: Annotated[Page, paging(max_limit=200)],
) -> dict[str, Any]:
    """Newest first, each with its state."""
    with connections.engine.connect() as connection:
        items, total = jobs.recent(connections.celery, connection, page.limit, page.offset)
    return {"items": [item.as_dict() for item in items], "total": total}


@router.get("/{job_id}", summary="A job's state, progress and result")
def get_job(request: Request, principal: CanRun, connections: ConnectionsDep, job_id: str) -> dict[str, Any]:
    """`state` is PENDING, STARTED, PROGRESS, RETRY, SUCCESS or FAILURE; `progress` while it runs,
    `result` after success, `error` after failure."""
    with connections.engine.connect() as connection:
        status = jobs.status(connections.celery, connection, job_id).as_dict()
    if status["state"] in ("SUCCESS", "FAILURE"):
        # Whoever saw an import finish must not then meet a reply cached before it.
        mark_catalog_changed(request)
    return status


class JobArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str | None = Field(
        default=None,
        description="refresh_analytics_views: only this dataset (all when omitted); process_data: required",
    )
    pipeline: Literal["profile", "clean", "deidentify"] | None = Field(
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


@router.post("", status_code=202, summary="Start a job")
def start_job(principal: CanRun, connections: ConnectionsDep, body: JobRequest) -> JSONResponse:
    """Queue the task and answer at once with its `job_id`."""
    dataset = body.args.dataset
    arguments = _task_arguments(body, principal)
    with connections.engine.begin() as connection:
        if dataset is not None:
            check_identifier(dataset, "dataset name")
            datasets.get_dataset(connection, dataset)
        job_id = jobs.submit(
            connections.celery, connection, body.task, arguments, body.args.model_dump(), principal.user_id
        )
    return JSONResponse({"job_id": job_id, "status_url": f"/api/v1/jobs/{job_id}"}, status_code=202)


def _task_arguments(body: JobRequest, principal: Principal) -> list[Any]:
    """The task's arguments, refusing what it would not take (422 naming the argument) and what
    the caller may not do (403 naming the permission)."""
    dataset, pipeline = body.args.dataset, body.args.pipeline
    if body.task == "calculate_kpis":
        if dataset is not None or pipeline is not None:
            raise InvalidInputError("calculate_kpis takes no arguments: it computes every metric's KPIs")
        return []
    if body.task == "process_data":
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
