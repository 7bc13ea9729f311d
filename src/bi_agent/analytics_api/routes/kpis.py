"""KPIs: each metric now against the period before, as the `calculate_kpis` task stored them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from bi_agent.catalog import kpis
from bi_agent.catalog.query_spec import Grain
from bi_agent.http.auth import ConnectionsDep, read_scope
from bi_agent.http.pages import Listing
from bi_agent.security.permissions import Permission
from bi_agent.security.read_scope import ReadScope

router = APIRouter(prefix="/kpis", tags=["kpis"])

CanRead = Annotated[ReadScope, read_scope(Permission.METRICS_READ)]


@router.get("", summary="KPI cards", response_model_exclude_unset=True)
def list_kpis(
    scope: CanRead, connections: ConnectionsDep, grain: Annotated[Grain, Query()] = "month"
) -> Listing[kpis.KpiCard]:
    """Per metric: the current period's value (to the latest data), the same span of the period
    before, and the change in percent; `stale` when data has arrived since they were computed;
    `error` when the metric's last calculation failed, saying why (its values, if any, are from
    the calculation before; the other metrics' are not held back by it).
    KPIs are computed over every row: those of datasets a row policy limits for the caller are
    left out (their metrics can still be queried, within the policy). PHI metrics' KPIs are
    left out for callers without `phi:read`. In HIPAA mode a value of fewer than
    HIPAA_MIN_CELL_SIZE records is null for callers without `phi:read`, with `suppressed: true`."""
    with connections.engine.connect() as connection:
        items = kpis.latest(connection, grain, scope)
    return Listing(items=items, total=len(items))
