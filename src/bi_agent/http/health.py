"""`/health` (readiness: PostgreSQL, Redis and S3 answer) and `/livez` (the process runs)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bi_agent.infra.connections import Connections
from bi_agent.infra.probes import run_checks

router = APIRouter(tags=["health"])


@router.get("/health", summary="Readiness: every dependency answers")
async def health(request: Request) -> JSONResponse:
    """200 when PostgreSQL, Redis and S3 all answer, else 503 naming the failing checks."""
    connections: Connections = request.app.state.connections
    results = await run_in_threadpool(run_checks, connections)
    failing = [name for name, result in results.items() if result.status != "ok"]
    body: dict[str, Any] = {
        "status": "fail" if failing else "ok",
        "service": request.app.title,
        "checks": {name: result.as_dict() for name, result in results.items()},
    }
    if failing:
        body["failing"] = failing
    return JSONResponse(body, status_code=503 if failing else 200)


@router.get("/livez", summary="Liveness: the process answers; touches no dependency")
async def livez() -> dict[str, str]:
    return {"status": "ok"}
