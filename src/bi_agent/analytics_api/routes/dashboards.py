"""Dashboards: create, list, read, replace and delete; who sees and changes one is the domain's rule."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, ConfigDict, Field

from bi_agent.catalog import dashboards
from bi_agent.catalog.dashboards import Chart, DashboardContent, Layout
from bi_agent.http.auth import ConnectionsDep, require
from bi_agent.http.pages import Listing, PageDep
from bi_agent.security.permissions import Permission, Principal

router = APIRouter(prefix="/dashboards", tags=["dashboards"])

CanRead = Annotated[Principal, require(Permission.DASHBOARDS_READ)]
CanWrite = Annotated[Principal, require(Permission.DASHBOARDS_WRITE)]


class OwnerReply(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str


class TileReply(BaseModel):
    id: str
    title: str
    chart: Chart
    query: dict[str, Any] = Field(
        description="The query as saved (see QuerySpec); a filter on a PHI column has value null without phi:read"
    )
    layout: Layout


class DashboardReply(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    tiles: list[TileReply]
    owner: OwnerReply | None = Field(description="null once the owner's user is gone")
    shared_with_roles: list[str] = Field(description="Holders of any of these roles see the dashboard")
    created_at: datetime
    updated_at: datetime


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a dashboard")
def create_dashboard(body: DashboardContent, principal: CanWrite, connections: ConnectionsDep) -> DashboardReply:
    """A new dashboard owned by the caller. Tiles without an id get one. 422 naming an unknown
    role in `shared_with_roles`, or the tile whose query names an unknown metric or metrics of
    more than one dataset; 403 naming the tile and column when a tile filters on a PHI column
    and the caller lacks `phi:read`."""
    with connections.engine.begin() as connection:
        dashboard = dashboards.create_dashboard(connection, body, principal)
    return DashboardReply.model_validate(dashboard)


@router.get("", summary="List dashboards")
def list_dashboards(
    principal: CanRead,
    connections: ConnectionsDep,
    page: PageDep,
) -> Listing[DashboardReply]:
    """The dashboards the caller may see, by name: their own, those shared with one of their
    roles, and every one for holders of `users:manage`. Without `phi:read`, a tile's filter on
    a PHI column of its dataset has `"value": null`."""
    with connections.engine.connect() as connection:
        listed = dashboards.list_dashboards(connection, principal, page.limit, page.offset)
    return Listing(items=[DashboardReply.model_validate(item) for item in listed.items], total=listed.total)


@router.get("/{dashboard_id}", summary="Read a dashboard")
def get_dashboard(dashboard_id: uuid.UUID, principal: CanRead, connections: ConnectionsDep) -> DashboardReply:
    """One dashboard with its tiles; 404 when it does not exist or the caller may not see it.
    Without `phi:read`, a tile's filter on a PHI column of its dataset has `"value": null`."""
    with connections.engine.connect() as connection:
        dashboard = dashboards.get_dashboard(connection, dashboard_id, principal)
    return DashboardReply.model_validate(dashboard)


def _may_change(dashboard_id: uuid.UUID, principal: CanWrite, connections: ConnectionsDep) -> None:
    # A dependency runs before the body is validated: a tile sent back with the null PHI value
    # it was shown is refused as a change this caller may not make, not as a bad filter.
    with connections.engine.connect() as connection:
        dashboards.check_may_change(connection, dashboard_id, principal)


@router.put("/{dashboard_id}", summary="Replace a dashboard's content", dependencies=[Depends(_may_change)])
def replace_dashboard(
    dashboard_id: uuid.UUID, body: DashboardContent, principal: CanWrite, connections: ConnectionsDep
) -> DashboardReply:
    """Name, description, tiles and shares become exactly these; fields left out take their
    defaults. Only the owner or an admin may; 403 for others who can see it, 404 for the rest.
    Without `phi:read`: 403 naming the column when a tile, stored or sent, filters on a PHI
    column (its value is shown to such callers as null, here and in every reply)."""
    with connections.engine.begin() as connection:
        dashboard = dashboards.replace_dashboard(connection, dashboard_id, body, principal)
    return DashboardReply.model_validate(dashboard)


@router.delete("/{dashboard_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a dashboard")
def delete_dashboard(dashboard_id: uuid.UUID, principal: CanWrite, connections: ConnectionsDep) -> Response:
    """Only the owner or an admin may; 403 for others who can see it, 404 for the rest."""
    with connections.engine.begin() as connection:
        dashboards.delete_dashboard(connection, dashboard_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
