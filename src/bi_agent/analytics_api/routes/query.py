"""Queries: metrics as a time series, from the rollup or the table, through the cache."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from bi_agent.catalog import queries
from bi_agent.catalog.query_cache import QueryCache, RecentReplies, access_scope, reply_key
from bi_agent.catalog.query_spec import QuerySpec
from bi_agent.http.audit_context import request_info
from bi_agent.http.auth import ConnectionsDep, get_catalog_epoch, require
from bi_agent.infra.connections import Connections
from bi_agent.security import audit
from bi_agent.security.audit import RequestInfo
from bi_agent.security.permissions import Permission, Principal
from bi_agent.security.phi_access import check_phi_reads


@asynccontextmanager
async def _recent_replies(app: FastAPI) -> AsyncIterator[None]:
    app.state.recent_replies = RecentReplies()
    yield


router = APIRouter(tags=["queries"], lifespan=_recent_replies)

CanQuery = Annotated[Principal, require(Permission.QUERIES_RUN)]


@router.post("/query", summary="Run a query", response_class=JSONResponse)
async def run_query(request: Request, principal: CanQuery, connections: ConnectionsDep, body: QuerySpec) -> Response:
    """`{"columns", "rows", "source": "rollup"|"table", "cached", "data_version", "limit",
    "truncated"}`; the header `X-Cache` says HIT or MISS. When more rows match than `limit`
    (10,000 unless asked), `rows` holds the first `limit` of them, `truncated` is true and so
    is the header `X-Result-Truncated`. `start` is included and `end` is not; dates and times without a
    zone are read in REPORTING_TIMEZONE. In HIPAA mode, for a caller without `phi:read`, a value
    built from fewer than HIPAA_MIN_CELL_SIZE records is null, with `"suppressed": true` and its
    `[row, column]` in `suppressed_cells`; and a query of a dataset with PHI columns needs the
    header `X-Purpose`, and is audited."""
    recent: RecentReplies = request.app.state.recent_replies
    cache = QueryCache(connections.redis, connections.settings.cache_signing_key(), connections.redis_async, recent)
    settings = connections.settings
    timezone = settings.reporting_timezone
    phi_allowed = principal.has(Permission.PHI_READ)
    # HIPAA mode hides small cells from whoever may not read the rows themselves.
    min_cell_size = settings.hipaa_min_cell_size if settings.hipaa_mode and not phi_allowed else None
    scope = access_scope(principal, min_cell_size=min_cell_size)
    if settings.hipaa_mode:
        # Before any cache: each read of a PHI-bearing dataset needs a purpose and is recorded.
        await run_in_threadpool(_check_phi_read, connections, principal, request_info(request), body)
    # Heard before anything is read, so a reply filed under it is never newer than the data.
    epoch = get_catalog_epoch(request)
    key = reply_key(epoch, timezone, scope, await request.body()) if epoch is not None else None
    if key is not None:
        reply = await cache.get_reply(key)
        if reply is not None:
            return Response(
                reply, media_type="application/json", headers={"X-Cache": "HIT", **_truncation_header(reply)}
            )

    def answer() -> queries.Answer:
        with connections.engine.connect() as connection:
            return queries.answer(
                connection,
                cache,
                body,
                timezone,
                scope,
                phi_allowed=phi_allowed,
                min_cell_size=min_cell_size,
                roles=principal.roles,
            )

    result, cached, storable = await run_in_threadpool(answer)
    if key is not None and storable:
        await cache.put_reply(key, bytes(JSONResponse({**result, "cached": True}).body))
    return JSONResponse(
        {**result, "cached": cached},
        headers={"X-Cache": "HIT" if cached else "MISS", "X-Result-Truncated": str(result["truncated"]).lower()},
    )


def _truncation_header(reply: bytes) -> dict[str, str]:
    """X-Result-Truncated of a stored reply, without parsing it: in compact JSON the key with its
    value can only be the reply's own (a quote inside a text value is escaped)."""
    return {"X-Result-Truncated": "true" if b'"truncated":true' in reply else "false"}


def _check_phi_read(connections: Connections, principal: Principal, info: RequestInfo, body: QuerySpec) -> None:
    with connections.engine.connect() as connection:
        reads = queries.phi_reads(
            connection, body.metric_names, [*body.group_by, *(item.dimension for item in body.filters)]
        )
    check_phi_reads(
        connections.engine,
        principal,
        info,
        reads,
        hipaa_mode=True,
        action=audit.Action.QUERY,
        resource="/api/v1/query",
    )
