"""Metrics: define, list, change and delete `aggregation(column)` over a dataset.

A PHI metric (min, max, sum or avg of a PHI column, a filter on one, a PHI time column) needs
`phi:read` to be defined, changed or queried; others see it listed with `"phi": true`,
its PHI filter values null."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from bi_agent.catalog import metrics
from bi_agent.catalog.metrics import MetricDefinition, MetricPatch, MetricReply
from bi_agent.catalog.names import check_identifier
from bi_agent.http.auth import ConnectionsDep, read_scope, require
from bi_agent.http.pages import Listing, Page, paging
from bi_agent.security.permissions import Permission, Principal
from bi_agent.security.read_scope import ReadScope

router = APIRouter(prefix="/metrics", tags=["metrics"])

# Whether a definition's PHI filter values show, and a PHI metric may be written, is the scope's.
CanRead = Annotated[ReadScope, read_scope(Permission.METRICS_READ)]
CanWrite = Annotated[ReadScope, read_scope(Permission.METRICS_WRITE)]
CanDelete = Annotated[Principal, require(Permission.METRICS_WRITE)]


@router.post("", status_code=201, summary="Define a metric")
def create_metric(scope: CanWrite, connections: ConnectionsDep, body: MetricDefinition) -> MetricReply:
    """Checked against the dataset's schema: 422 for an unknown column, `sum` of text, min or max
    of text (one record's value, not an aggregate), or a time column that is not a date or
    timestamp; 409 for a name in use; 403 naming the column for a PHI metric (min or max of a
    PHI column, a filter on one, a PHI time column) without `phi:read`. Builds the dataset's
    rollup."""
    with connections.engine.begin() as connection:
        metric = metrics.create_metric(
            connection, body, scope.user_id, connections.settings.reporting_timezone, phi_allowed=scope.phi_allowed
        )
    return MetricReply.of(metric, phi_allowed=scope.phi_allowed)


@router.get("", summary="List metrics")
def list_metrics(
    scope: CanRead,
    connections: ConnectionsDep,
    page: Annotated[Page, paging(default_limit=100)],
    dataset: Annotated[str | None, Query(description="Only the metrics of this dataset")] = None,
) -> Listing[MetricReply]:
    """Metrics by name. `phi` marks a PHI metric (`phi_columns` says which columns make it one):
    querying it needs `phi:read`, and for a caller without it the value of a filter on a PHI
    column is null."""
    with connections.engine.connect() as connection:
        items, total = metrics.list_metrics(connection, page.limit, page.offset, dataset)
    return Listing(items=[MetricReply.of(item, phi_allowed=scope.phi_allowed) for item in items], total=total)


@router.get("/{name}", summary="A metric")
def get_metric(scope: CanRead, connections: ConnectionsDep, name: str) -> MetricReply:
    """Its definition, as listed (PHI filter values null for a caller without `phi:read`)."""
    check_identifier(name, "metric name")
    with connections.engine.connect() as connection:
        metric = metrics.get_metric(connection, name)
    return MetricReply.of(metric, phi_allowed=scope.phi_allowed)


@router.patch("/{name}", summary="Change a metric")
def patch_metric(scope: CanWrite, connections: ConnectionsDep, name: str, body: MetricPatch) -> MetricReply:
    """Checked like a new definition; the dataset's rollup is reshaped to fit. Changing a PHI
    metric, or a metric into one, needs `phi:read` (403 naming the column)."""
    check_identifier(name, "metric name")
    with connections.engine.begin() as connection:
        metric = metrics.change_metric(
            connection, name, body, connections.settings.reporting_timezone, phi_allowed=scope.phi_allowed
        )
    return MetricReply.of(metric, phi_allowed=scope.phi_allowed)


@router.delete("/{name}", status_code=204, summary="Delete a metric")
def delete_metric(principal: CanDelete, connections: ConnectionsDep, name: str) -> Response:
    """The dataset's rollup drops what only this metric needed."""
    check_identifier(name, "metric name")
    with connections.engine.begin() as connection:
        metrics.delete_metric(connection, name, connections.settings.reporting_timezone)
    return Response(status_code=204)
