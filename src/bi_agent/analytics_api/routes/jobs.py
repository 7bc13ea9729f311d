"""Jobs: the state, progress and result of background work such as imports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request

from bi_agent.catalog import analytics_jobs
from bi_agent.catalog.analytics_jobs import JobReply, JobRequest
from bi_agent.http.auth import ConnectionsDep, require
from bi_agent.http.catalog_catch_up import mark_catalog_changed
from bi_agent.http.pages import Listing, Page, paging
from bi_agent.infra.jobs import JobAccepted
from bi_agent.security.permissions import Permission, Principal

router = APIRouter(prefix="/jobs", tags=["jobs"])

CanRun = Annotated[Principal, require(Permission.JOBS_RUN)]


@router.get("", summary="Recent jobs")
def list_jobs(
    principal: CanRun,
    connections: ConnectionsDep,
    page: Annotated[Page, paging(max_limit=200)],
) -> Listing[JobReply]:
    """Newest first, each with its state."""
    with connections.engine.connect() as connection:
        items, total = analytics_jobs.recent_jobs(connections.celery, connection, page.limit, page.offset)
    return Listing(items=items, total=total)


@router.get("/{job_id}", summary="A job's state, progress and result")
def get_job(request: Request, principal: CanRun, connections: ConnectionsDep, job_id: str) -> JobReply:
    """`state` is PENDING, STARTED, PROGRESS, RETRY, SUCCESS or FAILURE; `progress` while it runs,
    `result` after success, `error` after failure."""
    with connections.engine.connect() as connection:
        job = analytics_jobs.job_status(connections.celery, connection, job_id)
    if job.state in ("SUCCESS", "FAILURE"):
        # Whoever saw an import finish must not then meet a reply cached before it.
        mark_catalog_changed(request)
    return job


@router.post("", status_code=202, summary="Start a job")
def start_job(principal: CanRun, connections: ConnectionsDep, body: JobRequest) -> JobAccepted:
    """Queue the task and answer at once with its `job_id`. 422 for arguments the task does not
    take, 403 for a pipeline that needs a permission the caller lacks, 404 for an unknown dataset."""
    with connections.engine.begin() as connection:
        return analytics_jobs.start_job(connections.celery, connection, body, principal)
