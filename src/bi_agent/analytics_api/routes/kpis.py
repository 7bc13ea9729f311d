"""KPIs: each metric now against the period before, as the `calculate_kpis` task stored them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from bi_agent.catalog import kpis, row_policies
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
    before, and the change in percent; `stale` when data has arrived since they were computed;
    `error` when the metric's last calculation failed, saying why (its values, if any, are from
    the calculation before; the other metrics' are not held back by it).
    KPIs are computed over every row: those of datasets a row policy limits for the caller are
    left out (their metrics can still be queried, within the policy). PHI metrics' KPIs are
    left out for callers without `phi:read`. In HIPAA mode a value of fewer than
    HIPAA_MIN_CELL_SIZE records is null for callers without `phi:read`, with `suppressed: true`."""
    with connections.engine.connect() as connection:
        restricted = row_policies.restricted_datasets(connection, principal.roles)
        settings = connections.settings
        phi_allowed = principal.has(Permission.PHI_READ)
        hide_small = settings.hipaa_mode and not phi_allowed
        stored = kpis.latest(
            connection,
            grain,
            phi_allowed=phi_allowed,
            min_cell_size=settings.hipaa_min_cell_size if hide_small else None,
        )
        items = [item for item in stored if item["dataset"] not in restricted]
    return {"items": items, "total": len(items)}
