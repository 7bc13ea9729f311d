"""Forecasts: a metric of the analytics catalog, carried forward with prediction intervals."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Response

from bi_agent.catalog import queries
from bi_agent.catalog.query_cache import QueryCache
from bi_agent.http.auth import ConnectionsDep, read_scope
from bi_agent.ml import forecasting
from bi_agent.security import audit
from bi_agent.security.permissions import Permission
from bi_agent.security.read_scope import ReadScope

router = APIRouter(tags=["forecasts"])

# A forecast is a query of the metric's history, so it needs what a query needs.
CanQuery = Annotated[ReadScope, read_scope(Permission.QUERIES_RUN)]


@router.post("/forecast", summary="Forecast a metric")
def forecast(
    response: Response, scope: CanQuery, connections: ConnectionsDep, body: forecasting.ForecastRequest
) -> forecasting.Forecast:
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
        result = forecasting.answer(
            connection,
            QueryCache(connections.redis, connections.settings.cache_signing_key()),
            body,
            timezone,
            scope,
            today=today,
        )
    response.headers["X-Cache"] = "HIT" if result.cached else "MISS"
    return result
