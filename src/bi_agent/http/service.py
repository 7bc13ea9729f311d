"""The FastAPI app factory both HTTP services build on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from bi_agent import __version__
from bi_agent.http import health, metrics
from bi_agent.http.catalog_catch_up import install_catalog_catch_up
from bi_agent.http.metrics import install_request_metrics
from bi_agent.http.nul_bytes import refuse_nul_bytes
from bi_agent.http.problems import PROBLEM_RESPONSES, ValueFreeErrors, install_problem_handlers
from bi_agent.http.request_bounds import BodyLimit, RequestBounds
from bi_agent.infra.catalog_epoch import CatalogEpoch
from bi_agent.infra.connections import Connections
from bi_agent.infra.log_format import set_up_logs
from bi_agent.infra.tracing import configure_tracing, instrument_app
from bi_agent.security.principal_cache import PrincipalCache
from bi_agent.security.sessions import SessionActivity
from bi_agent.settings import Settings, get_settings


def create_service(
    name: str,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    settings: Settings | None = None,
    body_limits: Callable[[Settings], Sequence[BodyLimit]] = lambda settings: (),
) -> FastAPI:
    """`name` (analytics-api, ml-service) labels this service's metrics. `body_limits` gives the
    routes that take more than HTTP_MAX_JSON_BODY_KB (an upload) their own limit."""
    resolved = settings or get_settings()
    # No secret, no start: a service that cannot sign or check tokens must not answer.
    resolved.signing_secret()
    # After uvicorn set up its loggers (it does before calling this factory).
    set_up_logs(resolved, name)
    # Before the lifespan makes the engine and Redis clients, so they are traced.
    tracer_provider = configure_tracing(resolved, name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.connections = Connections.open(resolved)
        app.state.catalog_epoch = CatalogEpoch(app.state.connections.engine).start()
        app.state.principals = PrincipalCache()
        app.state.session_activity = SessionActivity(
            app.state.connections.redis_async, resolved.hipaa_idle_timeout_minutes * 60
        )
        try:
            yield
        finally:
            app.state.catalog_epoch.stop()
            await app.state.connections.aclose()

    # Before the routers are included: each of their routes gets the app's dependencies then.
    app = FastAPI(
        title=title,
        description=description,
        version=__version__,
        lifespan=lifespan,
        dependencies=[Depends(refuse_nul_bytes)],
    )
    app.state.settings = resolved
    install_problem_handlers(app)
    # Inside the request metrics and tracing, so refusals are counted and traced too.
    app.add_middleware(
        RequestBounds,
        default=BodyLimit("*", "*", resolved.http_max_json_body_kb << 10, "HTTP_MAX_JSON_BODY_KB"),
        limits=body_limits(resolved),
        body_timeout_seconds=resolved.http_body_timeout_seconds,
        body_min_bytes_per_second=resolved.http_body_min_bytes_per_second,
    )
    install_request_metrics(app, name)
    install_catalog_catch_up(app)
    if tracer_provider is not None:
        instrument_app(app, tracer_provider)
    # Added last, so it wraps the other middleware too.
    app.add_middleware(ValueFreeErrors)
    app.include_router(health.router)
    app.include_router(metrics.router)
    for router in routers:
        app.include_router(router, prefix="/api/v1", responses=PROBLEM_RESPONSES)
    return app
