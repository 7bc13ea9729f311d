"""`/health` (readiness: PostgreSQL, Redis and S3 answer) and `/livez` (the process runs)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from bi_agent.infra.connections import Connections
from bi_agent.infra.probes import CheckResult, run_checks

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "fail"]
    service: str
    checks: dict[str, CheckResult] = Field(description="Per dependency (postgres, redis, s3)")
    failing: list[str] | None = Field(default=None, description="The checks that failed, when any did")


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


@router.get(
    "/health",
    summary="Readiness: every dependency answers",
    response_model=Health,
    response_model_exclude_none=True,
    responses={503: {"model": Health, "description": "A dependency does not answer; `failing` names it"}},
)
async def health(request: Request) -> JSONResponse:
    """200 when PostgreSQL, Redis and S3 all answer, else 503 naming the failing checks."""
    connections: Connections = request.app.state.connections
    results = await run_in_threadpool(run_checks, connections)
    failing = [name for name, result in results.items() if result.status != "ok"]
    body = Health(
        status="fail" if failing else "ok", service=request.app.title, checks=results, failing=failing or None
    )
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=503 if failing else 200)


@router.get("/livez", summary="Liveness: the process answers; touches no dependency")
async def livez() -> Liveness:
    return Liveness()
