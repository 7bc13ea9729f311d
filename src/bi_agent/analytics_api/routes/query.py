"""Queries: metrics as a time series, from the rollup or the table, through the cache."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bi_agent.catalog import queries
from bi_agent.catalog.query_cache import QueryCache, access_scope
from bi_agent.catalog.query_spec import QuerySpec
from bi_agent.http.auth import ConnectionsDep, require
from bi_agent.security.permissions import Permission, Principal

router = APIRouter(tags=["queries"])

CanQuery = Annotated[Principal, require(Permission.QUERIES_RUN)]


@router.post("/query", summary="Run a query")
def run_query(principal: CanQuery, connections: ConnectionsDep, body: QuerySpec) -> JSONResponse:
    """`{"columns", "rows", "source": "rollup"|"table", "cached", "data_version"}`; the header
    `X-Cache` says HIT or MISS. `start` is included and `end` is not; dates and times without a
    zone are read in REPORTING_TIMEZONE."""
    cache = QueryCache(connections.redis)
    with connections.engine.connect() as connection:
        result, cached = queries.answer(
            connection, cache, body, connections.settings.reporting_timezone, access_scope(principal)
        )
    return JSONResponse({**result, "cached": cached}, headers={"X-Cache": "HIT" if cached else "MISS"})
