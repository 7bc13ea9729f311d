"""Jobs: work sent to the Celery queue, and the ledger (`bi.jobs`) of who sent what.

Celery alone cannot tell an unknown job id from one still waiting (both are PENDING),
and forgets results after a week; the ledger answers 404 for ids it never issued and
lists recent jobs.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from celery import Celery as Celery  # noqa: PLC0414 (re-exported: the domain names the queue through this module)
from celery.result import AsyncResult
from kombu.exceptions import OperationalError as KombuOperationalError
from pydantic import BaseModel, Field
from redis.exceptions import RedisError
from sqlalchemy import Connection, text

from bi_agent.errors import DependencyUnavailableError, NotFoundError
from bi_agent.infra import error_text

JobStateName = Literal["PENDING", "STARTED", "PROGRESS", "RETRY", "SUCCESS", "FAILURE", "REVOKED"]


@dataclass(frozen=True)
class JobStatus:
    """A job as the ledger and Celery know it; `progress` and `result` as the task wrote them."""

    id: str
    task: str
    summary: dict[str, Any]
    submitted_by: str | None
    submitted_at: datetime
    state: str
    progress: dict[str, Any] | None
    result: Any
    error: str | None


class JobAccepted(BaseModel):
    """A 202's reply: the work is queued as a job."""

    job_id: str
    status_url: str = Field(description="GET it for the job's state, progress and result")

    @classmethod
    def of(cls, job_id: str) -> JobAccepted:
        return cls(job_id=job_id, status_url=status_url(job_id))


def status_url(job_id: str) -> str:
    return f"/api/v1/jobs/{job_id}"


def submit(
    celery: Celery,
    connection: Connection,
    task: str,
    args: list[Any],
    summary: dict[str, Any],
    user_id: uuid.UUID | None,
) -> str:
    """Record the job, then queue it; the caller's transaction commits the record."""
    job_id = str(uuid.uuid4())
    connection.execute(
        text(
            "INSERT INTO bi.jobs (id, task, summary, submitted_by) VALUES (:id, :task, CAST(:summary AS jsonb), :user)"
        ),
        {"id": job_id, "task": task, "summary": json.dumps(summary), "user": user_id},
    )
    try:
        celery.send_task(task, args=args, task_id=job_id)
    except (KombuOperationalError, RedisError) as error:
        raise DependencyUnavailableError(
            f"the job queue (Redis) cannot take {task} now: {type(error).__name__}"
        ) from None
    return job_id


def status(celery: Celery, connection: Connection, job_id: str) -> JobStatus:
    row = connection.execute(
        text(
            "SELECT j.id, j.task, j.summary, u.username, j.submitted_at FROM bi.jobs j "
            "LEFT JOIN bi.users u ON u.id = j.submitted_by WHERE j.id = :id"
        ),
        {"id": job_id},
    ).first()
    if row is None:
        raise NotFoundError(f"no job {job_id}")
    return _with_state(celery, row)


def recent(celery: Celery, connection: Connection, limit: int, offset: int) -> tuple[list[JobStatus], int]:
    total = connection.execute(text("SELECT count(*) FROM bi.jobs")).scalar_one()
    rows = connection.execute(
        text(
            "SELECT j.id, j.task, j.summary, u.username, j.submitted_at FROM bi.jobs j "
            "LEFT JOIN bi.users u ON u.id = j.submitted_by ORDER BY j.submitted_at DESC LIMIT :limit OFFSET :offset"
        ),
        {"limit": limit, "offset": offset},
    ).all()
    return [_with_state(celery, row) for row in rows], total


def _with_state(celery: Celery, row: Any) -> JobStatus:
    result = AsyncResult(row.id, app=celery)
    state = str(result.state)
    info = result.info
    progress = info if state == "PROGRESS" and isinstance(info, dict) else None
    # Through error_text even though tasks fail value-free: results written before they did are
    # kept for a week, and a worker of another version may write the next one.
    error = error_text.describe(info) if state in ("FAILURE", "RETRY") and info is not None else None
    return JobStatus(
        id=row.id,
        task=row.task,
        summary=row.summary,
        submitted_by=row.username,
        submitted_at=row.submitted_at,
        state=state,
        progress=progress,
        result=info if state == "SUCCESS" else None,
        error=error,
    )
