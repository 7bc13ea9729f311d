"""Jobs: the state, progress and result of background work such as imports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from bi_agent.http.auth import ConnectionsDep, require
from bi_agent.infra import jobs
from bi_agent.security.permissions import Permission, Principal

router = APIRouter(prefix="/jobs", tags=["jobs"])

CanRun = Annotated[Principal, require(Permission.JOBS_RUN)]


@router.get("", summary="Recent jobs")
def list_jobs(
    principal: CanRun,
    connections: ConnectionsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Newest first, each with its state."""
    with connections.engine.connect() as connection:
        items, total = jobs.recent(connections.celery, connection, limit, offset)
    return {"items": [item.as_dict() for item in items], "total": total}


@router.get("/{job_id}", summary="A job's state, progress and result")
def get_job(principal: CanRun, connections: ConnectionsDep, job_id: str) -> dict[str, Any]:
    """`state` is PENDING, STARTED, PROGRESS, RETRY, SUCCESS or FAILURE; `progress` while it runs,
    `result` after success, `error` after failure."""
    with connections.engine.connect() as connection:
        return jobs.status(connections.celery, connection, job_id).as_dict()
