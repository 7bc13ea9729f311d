"""Forecasts: a metric of the analytics catalog, carried forward with prediction intervals."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from bi_agent.catalog import queries
from bi_agent.catalog.query_cache import QueryCache
from bi_agent.catalog.query_spec import Filter, Grain
from bi_agent.http.auth import ConnectionsDep, read_scope
from bi_agent.ml import forecasting
from bi_agent.security import audit
from bi_agent.security.permissions import Permission
from bi_agent.security.read_scope import ReadScope

router = APIRouter(tags=["forecasts"])

# A forecast is a query of the metric's history, so it needs what a query needs.
CanQuery = Annotated[ReadScope, read_scope(Permission.QUERIES_RUN)]


class ForecastBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str = Field(min_length=1, max_length=63, description="A metric of the analytics catalog")
    grain: Grain = Field(default="month", description="The period of each value")
    horizon: int = Field(
        ge=1,
        le=max(forecasting.MAX_HORIZON.values()),
        description="Periods to forecast: at most 366 days, 104 weeks, 36 months, 12 quarters or 5 years",
    )
    group_by: list[str] = Field(
        default_factory=list, max_length=2, description="Dimensions: one series per group (the 10 largest)"
    )
    filters: list[Filter] = Field(default_factory=list, max_length=20, description="As in a query")
    interval: float = Field(default=0.95, ge=0.5, le=0.99, description="Coverage of the prediction interval")


@router.post("/forecast", summary="Forecast a metric")
def forecast(scope: CanQuery, connections: ConnectionsDep, body: ForecastBody) -> JSONResponse:
    """Future values of a metric with a prediction interval, per group, from its complete
    periods (the current period and a last period the data stops inside are left out).
    Each series has the backtest of its model on its latest periods beside the naive
    forecast (last value) and the seasonal naive one. Model: statsmodels' ETS with additive
    errors, a damped trend and the grain's season when two seasons of history exist.
    422 for an unknown metric or dimension, a horizon too long for the grain, fewer than
    10 periods of history, or a metric that cannot be forecast (its dataset no longer answers
    its definition, or its values are no numbers: the latest of a date, say). Row policies
    apply as in a query; in HIPAA mode a metric of a PHI-bearing dataset needs the header
    `X-Purpose`, and small cells are hidden."""
    timezone = connections.settings.reporting_timezone
    request = forecasting.ForecastRequest(
        metric=body.metric,
        grain=body.grain,
        horizon=body.horizon,
        group_by=tuple(body.group_by),
        filters=tuple(body.filters),
        interval=body.interval,
    )
    today = datetime.now(ZoneInfo(timezone)).date()
    with connections.engine.connect() as connection:
        if scope.hipaa_mode:
            # The reads of the query of the metric's history, recorded before anything is read.
            dimensions = [*body.group_by, *(item.dimension for item in body.filters)]
            scope.check_reads(
                connections.engine,
                queries.phi_reads(connection, [body.metric], dimensions),
                action=audit.Action.FORECAST,
                resource="/api/v1/forecast",
            )
        result, cached = forecasting.answer(
            connection,
            QueryCache(connections.redis, connections.settings.cache_signing_key()),
            request,
            timezone,
            scope,
            today=today,
        )
    return JSONResponse({**result, "cached": cached}, headers={"X-Cache": "HIT" if cached else "MISS"})
