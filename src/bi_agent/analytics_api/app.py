"""Entry point: `uvicorn --factory bi_agent.analytics_api.app:create_app`."""

from fastapi import APIRouter, FastAPI

from bi_agent.analytics_api.routes import (
    audit,
    auth,
    dashboards,
    datasets,
    jobs,
    kpis,
    metrics,
    query,
    roles,
    row_policies,
    schedules,
    users,
)
from bi_agent.http.service import create_service
from bi_agent.settings import Settings

# Routes are matched in this order, one pattern at a time: the hottest route, the
# (mostly cached) query, comes first. Paths do not overlap, so order changes nothing else.
ROUTERS: list[APIRouter] = [
    query.router,
    auth.router,
    users.router,
    roles.router,
    datasets.router,
    metrics.router,
    kpis.router,
    jobs.router,
    schedules.router,
    dashboards.router,
    row_policies.router,
    audit.router,
]


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service(
        "analytics-api",
        "BI-Agent Analytics API",
        "Datasets, metrics, queries, dashboards and jobs of the BI-Agent platform.",
        routers=ROUTERS,
        settings=settings,
        body_limits=lambda resolved: [datasets.upload_body_limit(resolved)],
    )
