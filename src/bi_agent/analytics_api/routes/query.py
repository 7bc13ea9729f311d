"""Queries: metrics as a time series, from the rollup or the table, through the cache."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from bi_agent.catalog import queries
from bi_agent.catalog.queries import QueryResult
from bi_agent.catalog.query_cache import QueryCache, RecentReplies, reply_key
from bi_agent.catalog.query_spec import QuerySpec
from bi_agent.http.auth import ConnectionsDep, get_catalog_epoch, read_scope
from bi_agent.infra.connections import Connections
from bi_agent.security import audit
from bi_agent.security.permissions import Permission
from bi_agent.security.read_scope import ReadScope


@asynccontextmanager
async def _recent_replies(app: FastAPI) -> AsyncIterator[None]:
    app.state.recent_replies = RecentReplies()
    yield


router = APIRouter(tags=["queries"], lifespan=_recent_replies)

CanQuery = Annotated[ReadScope, read_scope(Permission.QUERIES_RUN)]


@router.post("/query", summary="Run a query", response_model=QueryResult, response_model_exclude_none=True)
async def run_query(request: Request, scope: CanQuery, connections: ConnectionsDep, body: QuerySpec) -> Response:
    """One row per period and group; the header `X-Cache` says HIT or MISS. When more rows match
    than `limit` (10,000 unless asked), `rows` holds the first `limit` of them, `truncated` is
    true and so is the header `X-Result-Truncated`. `start` is included and `end` is not; dates
    and times without a zone are read in REPORTING_TIMEZONE. In HIPAA mode, for a caller without
    `phi:read`, a value built from fewer than HIPAA_MIN_CELL_SIZE records is null, with
    `"suppressed": true` and its `[row, column]` in `suppressed_cells`; and a query of a dataset
    with PHI columns needs the header `X-Purpose`, and is audited."""
    recent: RecentReplies = request.app.state.recent_replies
    cache = QueryCache(connections.redis, connections.settings.cache_signing_key(), connections.redis_async, recent)
    timezone = connections.settings.reporting_timezone
    if scope.hipaa_mode:
        # Before any cache: each read of a PHI-bearing dataset needs a purpose and is recorded.
        await run_in_threadpool(_check_phi_read, connections, scope, body)
    # Heard before anything is read, so a reply filed under it is never newer than the data.
    epoch = get_catalog_epoch(request)
    key = reply_key(epoch, timezone, scope.cache_scope, await request.body()) if epoch is not None else None
    if key is not None:
        reply = await cache.get_reply(key)
        if reply is not None:
            return Response(
                reply, media_type="application/json", headers={"X-Cache": "HIT", **_truncation_header(reply)}
            )

    def answer() -> queries.Answer:
        with connections.engine.connect() as connection:
            return queries.answer(connection, cache, body, timezone, scope)

    result, storable = await run_in_threadpool(answer)
    sent = result.stored()
    if key is not None and storable:
        await cache.put_reply(key, bytes(JSONResponse({**sent, "cached": True}).body))
    return JSONResponse(
        sent,
        headers={"X-Cache": "HIT" if result.cached else "MISS", "X-Result-Truncated": str(result.truncated).lower()},
    )


def _truncation_header(reply: bytes) -> dict[str, str]:
    """X-Result-Truncated of a stored reply, without parsing it: in compact JSON the key with its
    value can only be the reply's own (a quote inside a text value is escaped)."""
    return {"X-Result-Truncated": "true" if b'"truncated":true' in reply else "false"}


def _check_phi_read(connections: Connections, scope: ReadScope, body: QuerySpec) -> None:
    with connections.engine.connect() as connection:
        reads = queries.phi_reads(
            connection, body.metric_names, [*body.group_by, *(item.dimension for item in body.filters)]
        )
    scope.check_reads(connections.engine, reads, action=audit.Action.QUERY, resource="/api/v1/query")
