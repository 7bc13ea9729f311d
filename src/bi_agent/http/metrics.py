"""`/metrics` for Prometheus, and the middleware that times every request by route template.

The route template (`/api/v1/datasets/{name}`), never the raw path, is the label, so
a dataset name or an id cannot leak into metrics or blow up their cardinality.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bi_agent.infra.telemetry import REQUEST_ERRORS, REQUEST_SECONDS, registry

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Text format 0.0.4"}},
)
def metrics() -> Response:
    """Request latency per route, errors, rows imported, in the Prometheus text format."""
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def route_template(request: Request) -> str:
    """The matched route's template with its prefix (`/api/v1/datasets/{name}`), or `unmatched`."""
    # Routing leaves the matched route in the scope; its path lacks the prefix of an
    # included router, which is what precedes the rendered template in the real path.
    route = request.scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return "unmatched"
    try:
        rendered = template.format(**request.scope.get("path_params", {}))
    except (KeyError, IndexError, ValueError):
        return template
    path = request.url.path
    return path[: len(path) - len(rendered)] + template if path.endswith(rendered) else template


def install_request_metrics(app: FastAPI, service: str) -> None:
    @app.middleware("http")
    async def time_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = route_template(request)
            REQUEST_SECONDS.labels(service, request.method, route, str(status)).observe(time.perf_counter() - started)
            if status >= 500:
                REQUEST_ERRORS.labels(service, request.method, route).inc()
