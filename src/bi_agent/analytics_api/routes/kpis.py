"""KPIs: each metric now against the period before, as the `calculate_kpis` task stored them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from bi_agent.catalog import kpis
from bi_agent.catalog.query_spec import Grain
from bi_agent.http.auth import ConnectionsDep, require
from bi_agent.security.permissions import Permission, Principal

router = APIRouter(prefix="/kpis", tags=["kpis"])

CanRead = Annotated[Principal, require(Permission.METRICS_READ)]


@router.get("", summary="KPI cards")
def list_kpis(
    principal: CanRead, connections: ConnectionsDep, grain: Annotated[Grain, Query()] = "month"
) -> dict[str, Any]:
    """Per metric: the current period's value (to the latest data), the same span of the period
    before, and the change in percent; `stale` when data has arrived since they were computed."""
    with connections.engine.connect() as connection:
        items = kpis.latest(connection, grain)
    return {"items": items, "total": len(items)}
